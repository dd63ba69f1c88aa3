"""Offline stand-ins for the outside world, used by the tests, `simulate` and `bench`.

- `libre`: a LibreTranslate-compatible HTTP server (latency, faults, a scripted dictionary).
- `discord_server`: a loopback Discord REST + gateway server that the real discord.py client logs in to.

The running bot never imports this package.
"""
