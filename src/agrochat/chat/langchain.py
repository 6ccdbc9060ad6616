"""LangChain integration: ``AgrochatChatModel`` (a ``BaseChatModel``) and a tool for agents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import BaseTool, tool
from pydantic import ConfigDict, Field

from agrochat.errors import AgrochatError

from .assistant import Assistant

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}
_WORD = re.compile(r"\S+\s*|\s+")


def _text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)


def _to_messages(messages: list[BaseMessage]) -> list[dict]:
    """LangChain messages as agrochat chat turns: the first system message is kept (the decoder reads it), a
    tool result becomes a user turn (so the conversation continues after a ``ToolMessage``)."""
    out = []
    for m in messages:
        if m.type == "tool":
            name = getattr(m, "name", None) or "tool"
            out.append({"role": "user", "content": f"Tool result ({name}): {_text(m.content)}"})
            continue
        role = _ROLES.get(m.type)
        if role is None or (role == "system" and out):
            continue
        out.append({"role": role, "content": _text(m.content)})
    return out


class AgrochatChatModel(BaseChatModel):
    """Chat with agrochat from any LangChain app: DNA pasted in a human message is read by the DNA encoder and
    numbers come from the regression head."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    assistant: Any = Field(default=None, description="an agrochat Assistant (default: the shipped model)")
    max_new_tokens: int = 96

    def _get(self) -> Assistant:
        if self.assistant is None:
            self.assistant = Assistant.from_pretrained()
        return self.assistant

    @property
    def _llm_type(self) -> str:
        return "agrochat"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        answer = self._get().chat(_to_messages(messages), max_new_tokens=self.max_new_tokens)
        meta = {
            "predictions": [p.to_dict() for p in answer.predictions],
            "key": answer.key,
            "operation": answer.intent.op if answer.intent is not None else None,
        }
        return ChatResult(
            generations=[ChatGeneration(message=AIMessage(content=answer.text, response_metadata=meta))]
        )

    def bind_tools(self, tools, **kwargs: Any):
        raise NotImplementedError(
            "AgrochatChatModel does not call tools. Give an agent's tool-calling model the agrochat tool instead: "
            "agrochat.chat.langchain.make_promoter_strength_tool(assistant)"
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self._get().chat(
            _to_messages(messages), stream=True, max_new_tokens=self.max_new_tokens
        ):
            for word in _WORD.findall(piece):  # token-sized chunks, whatever size the pieces come in
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=word))
                if run_manager is not None:
                    run_manager.on_llm_new_token(word, chunk=chunk)
                yield chunk


def make_promoter_strength_tool(assistant: Assistant | None = None) -> BaseTool:
    """A LangChain tool an agent can call: promoter (or terminator) strength of a DNA sequence as JSON."""
    holder = {"assistant": assistant}

    @tool("promoter_strength")
    def promoter_strength(sequence: str, tissue: str = "leaf", task: str = "promoter_strength") -> str:
        """Predict the strength of a plant promoter (170 bp, -165..+5 around the TSS) in tobacco leaf or maize
        protoplasts, with uncertainty, percentile and the motifs found. task may also be terminator_strength."""
        if holder["assistant"] is None:
            holder["assistant"] = Assistant.from_pretrained()
        try:
            p = holder["assistant"].predict(sequence, task=task, tissue=tissue)[0]
        except AgrochatError as e:  # bad sequence or unknown task/tissue: tell the agent, don't crash
            return json.dumps({"error": str(e)})
        d = p.to_dict()
        d.pop("attribution")
        return json.dumps(d)

    return promoter_strength


promoter_strength_tool = make_promoter_strength_tool()
