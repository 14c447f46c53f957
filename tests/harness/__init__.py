"""What the fault tests, the browser tests and the benches share: our server processes and a phone's stream.

- `processes.Stack` starts redis-server, Daphne, Celery, the dispatcher (and any other
  command) on free 127.0.0.1 ports, a log file each, and ends them all.
- `client.StreamClient` is one phone on the event stream (docs/delivery.md): ticket,
  websocket, hello with its epoch and offset, acks; it checks what it applied.

It lives under tests/ because pytest imports it as `tests.harness` from the repository
root with nothing set up, while a bench, run as `python bench/x.py`, already puts the root
on its own sys.path to reach tests.base (bench/_ws.py does it for the stream benches).
bench/ is a folder of scripts importing each other by bare name (`_support`), not a package
a test could import. Neither module imports Django: benches load them before it is set up.
"""
