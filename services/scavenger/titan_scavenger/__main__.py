from titan_common.process import serve
from titan_scavenger.api.app import create_app
from titan_scavenger.settings import ScavengerSettings

serve("scavenger", ScavengerSettings, create_app)
