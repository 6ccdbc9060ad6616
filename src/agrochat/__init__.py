"""agrochat: an open, trainable assistant that reads plant DNA and answers in plain language.

Sub-packages (each a top-level folder of the repository, mapped by ``package-dir``):

- :mod:`agrochat.bridge`   encoder + projector + decoder + numeric head (the multimodal model)
- :mod:`agrochat.data_gen` instruction data from benchmark labels and motif facts
- :mod:`agrochat.train`    two-stage training through accelerate
- :mod:`agrochat.chat`     Python API, chat CLI and LangChain model
"""

__version__ = "0.1.0"
