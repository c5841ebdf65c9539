from titan_common.services import serve

serve("simulator")
