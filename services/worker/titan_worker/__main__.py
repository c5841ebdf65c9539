from titan_worker.cli import main

main()
