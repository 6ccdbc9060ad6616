"""``python -m agrochat.train --config ...`` (also under ``accelerate launch -m agrochat.train``)."""

from .cli import main

main()
