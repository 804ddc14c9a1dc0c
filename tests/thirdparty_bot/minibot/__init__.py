"""A miniature third-party trading bot, written the way bots in the wild are: its own prompt builder
(a markdown dashboard), its own LLM client on the official `openai` SDK (pointed at DeepSeek in
production), its own market client on ccxt. It imports nothing from pytest-oxbot: the tests around it
show the plugin gating a bot it knows nothing about."""
