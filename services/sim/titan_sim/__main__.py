from titan_common.process import serve
from titan_sim.api.app import create_app
from titan_sim.settings import SimSettings

serve("simulator", SimSettings, create_app)
