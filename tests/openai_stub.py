"""A small OpenAI-compatible chat-completions server for the AI gate's tests.

It answers POST /v1/chat/completions in OpenAI's shape with whatever content the test
scripted (POST /_script {"content", "delay_s", "status"}), after the scripted delay, and
keeps every request it received (GET /_requests), headers included, so a test can check
what the brain sent. Run: python openai_stub.py --port N
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()
SCRIPT: dict[str, Any] = {"content": '{"verdict":"ALLOW","reasons":[],"modify":null,"comment":"ok"}', "delay_s": 0.0}
REQUESTS: list[dict[str, Any]] = []


@app.post("/_script")
async def script(request: Request) -> dict[str, Any]:
    SCRIPT.clear()
    SCRIPT.update(await request.json())
    REQUESTS.clear()
    return {"ok": True}


@app.get("/_requests")
async def requests() -> list[dict[str, Any]]:
    return REQUESTS


@app.post("/v1/chat/completions")
async def completions(request: Request) -> JSONResponse:
    body = await request.json()
    REQUESTS.append({"headers": dict(request.headers), "body": body})
    await asyncio.sleep(float(SCRIPT.get("delay_s") or 0))
    status = int(SCRIPT.get("status") or 200)
    if status != 200:
        return JSONResponse({"error": {"message": "scripted failure", "type": "server_error"}}, status_code=status)
    return JSONResponse(
        {
            "id": f"chatcmpl-{len(REQUESTS)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": SCRIPT.get("content")},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
