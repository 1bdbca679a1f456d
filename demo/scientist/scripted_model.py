"""A stand-in for an LLM API: an OpenAI-compatible /v1/chat/completions on 127.0.0.1 that answers from a
script, for scripts/demo-scientist.sh. It speaks the real wire format, so the scientist talks to it as to any
OpenAI-compatible server; it needs no key and no network.

    python3 scripted_model.py SCRIPT.json PORT_FILE [LOG_FILE]

The script is a JSON object: "by_prompt" maps a text to the replies, in order, for conversations whose first
user message contains it; "replies" are the replies, in order, for every other call; "default" answers
whatever call has no reply left. It writes the port it listens on to PORT_FILE, and for each call the
first line of the last message it was sent to LOG_FILE (what the model "saw"). When nothing is left to say it
answers 503."""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

script = json.load(open(sys.argv[1]))
replies = script.get("replies", [])
by_prompt = script.get("by_prompt", {})
default = script.get("default")
pad = " ".join(["Considering the request, the evidence and what the answer must hold,"] * (script.get("pad_words", 0) // 12))
literature = script.get("literature", [])
port_file = sys.argv[2]
log = open(sys.argv[3], "a") if len(sys.argv) > 3 else None
lock = threading.Lock()


def tokens(text):
    return (len(text) + 3) // 4


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.path.startswith("/graph/v1/paper/search"):
            return self.answer(404, {"error": {"message": "unknown path " + self.path}})
        data = [{"paperId": p["id"], "title": p["title"], "year": p.get("year", 2020), "venue": "ICML",
                 "abstract": "Abstract of " + p["title"] + ".", "citationCount": 10,
                 "authors": [{"authorId": "1", "name": "Ada Lovelace"}],
                 "citationStyles": {"bibtex": "@inproceedings{" + p["id"] + ",\n title={" + p["title"] + "},\n author={Lovelace, Ada},\n booktitle={ICML},\n year={" + str(p.get("year", 2020)) + "}\n}"}}
                for p in literature]
        self.answer(200, {"total": len(data), "offset": 0, "data": data})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if not self.path.endswith("/chat/completions"):
            return self.answer(404, {"error": {"message": "unknown path " + self.path}})
        messages = body.get("messages") or []
        opening = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
        with lock:
            key = next((k for k in sorted(by_prompt) if k in opening), None)
            if key is not None:
                reply = by_prompt[key].pop(0) if by_prompt[key] else default
            else:
                reply = replies.pop(0) if replies else default
        if log:
            last = (body.get("messages") or [{}])[-1].get("content", "")
            log.write("model saw: " + (last.strip().splitlines() or [""])[0][:120] + "\n")
            log.flush()
        if reply is None:
            return self.answer(503, {"error": {"message": "the demo's script is used up"}})
        if pad:
            reply = "THOUGHT: " + pad + "\n\n" + reply
        prompt = sum(tokens(m.get("content", "")) + 4 for m in body.get("messages", []))
        completion = tokens(reply)
        self.answer(200, {
            "id": "demo", "object": "chat.completion", "model": body.get("model", "demo"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        })

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
