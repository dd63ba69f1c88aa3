"""The Discord side: the only part of Concord that imports discord.py.

- `bot`: the `commands.Bot` subclass (wiring in `setup_hook`) and `run()`;
- `sink`: the webhook `Sink` the relay engine posts through;
- `errors`: permission checks and the one place errors become replies;
- `helpers`: formatting and autocomplete the cogs share;
- `probe`: the Discord part of `python -m bot check`.

The cogs (`cogs/`) import from here, never from each other.
"""
