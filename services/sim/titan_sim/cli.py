"""`titan sim ...`: the simulator in the foreground, configured from arguments."""

from __future__ import annotations

from decimal import Decimal

from pydantic import SecretStr

from titan_common.logging import setup_logging
from titan_common.process import run_app
from titan_sim.settings import SimSettings


def run_standalone(
    port: int,
    seed: int,
    symbols: list[str],
    balance: Decimal,
    api_key: str,
    api_secret: str,
    host: str = "127.0.0.1",
    mexc_port: int = 9101,
) -> None:
    """Blocks until Ctrl-C/SIGTERM. Settings not given here still come from the environment
    (the MEXC face's key pair: TITAN_SIM_MEXC_API_KEY/SECRET)."""
    from titan_sim.api.app import create_app

    overrides: dict[str, object] = {
        "simulator_port": port,
        "simulator_mexc_port": mexc_port,
        "host": host,
        "sim_seed": seed,
        "sim_balance": balance,
        "sim_api_key": api_key,
        "sim_api_secret": SecretStr(api_secret),
    }
    if symbols:
        overrides["sim_symbols"] = ",".join(symbols)
    settings = SimSettings(**overrides)  # type: ignore[arg-type]
    setup_logging("simulator", level=settings.log_level, secrets=[api_secret])
    run_app(create_app(settings), host, port)
