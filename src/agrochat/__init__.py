"""agrochat: an open, trainable assistant that reads plant DNA and answers in plain language.

Sub-packages (see docs/architecture.md for the data flow):

- :mod:`agrochat.domain`   what every answer uses: task keys, registry, prompts, motif annotator, explanations
- :mod:`agrochat.bridge`   encoder + projector + decoder + numeric head (the multimodal model) and generation
- :mod:`agrochat.data_gen` training and instruction data from benchmark labels and motif facts
- :mod:`agrochat.train`    staged training through accelerate
- :mod:`agrochat.chat`     Python API (``Assistant``), chat CLI, LangChain model and tool, the server

Errors a user can cause derive from :class:`agrochat.errors.AgrochatError`.
"""

__version__ = "0.3.0"
