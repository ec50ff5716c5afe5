"""Serving a (fine-tuned) model behind an OpenAI-compatible HTTP endpoint: ``callforge serve``.

* ``protocol`` — the request and response shapes of ``/v1/chat/completions`` (what is accepted,
  bounded and refused), and turning a reply's text into OpenAI ``tool_calls``.
* ``batcher`` — requests that arrive together are generated together, one batch at a time.
* ``server`` — the HTTP server (standard library, threaded) over a ``trainer.inference.LocalModel``.

No Prefect and no web framework: the server is a small loop around ``LocalModel``; vLLM or Ollama
serve a merged model faster (README, *Serve*).
"""
