from agrochat.cli import app

app()
