"""The Discord side: the only part of Concord that imports discord.py.

- `bot`: the `commands.Bot` subclass (wiring in `setup_hook`) and `run()`;
- `sink`: the webhook `Sink` the relay engine posts through;
- `errors`: permission checks and the one place errors become replies;
- `helpers`: formatting, autocomplete and the permissions Concord needs, shared by the cogs;
- `probe`: the Discord part of `python -m bot check`;
- `views`: the language picker (a select menu that survives restarts);
- `layout`: what `/meeting create` makes and repairs (category, channels, roles, webhooks, pins), all or nothing;
- `meeting_posts`: a meeting's notices in every language, its transcripts, the call to its interpreters.

The cogs (`cogs/`) import from here, never from each other.
"""
