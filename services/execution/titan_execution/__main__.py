from titan_common.process import serve
from titan_execution.api.app import create_app
from titan_execution.settings import ExecutionSettings

serve("execution", ExecutionSettings, create_app)
