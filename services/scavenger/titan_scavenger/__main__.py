from titan_common.services import serve
from titan_scavenger.api.app import create_app
from titan_scavenger.settings import ScavengerSettings

serve("scavenger", ScavengerSettings, create_app)
