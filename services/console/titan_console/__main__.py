from titan_common.process import serve
from titan_console.api.app import create_app
from titan_console.settings import ConsoleSettings

serve("console", ConsoleSettings, create_app)
