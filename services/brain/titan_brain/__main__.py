from titan_brain.api.app import create_app
from titan_brain.settings import BrainSettings
from titan_common.process import serve

serve("brain", BrainSettings, create_app)
