"""Engines: the one place that talks to a model. `local` runs the embedded GGUF model on
llama.cpp in this process; `openai` calls any OpenAI-compatible `/v1/chat/completions`."""
