"""The LLM gateway as a pipeline component uses it: synchronously (components already run on a
worker thread), with the calls kept for the run's recorder, and the gateway's errors said in
the job's terms.

- An answer that stays invalid after the gateway's re-asks, a refused request or a missing
  model are permanent: the component fails with the reason and the run shows it.
- `LLMUnavailable` (timeouts, 429 and 5xx after the engine's own retries) is left as it is:
  the worker retries the run's job with backoff, and the retry starts at this component
  (earlier ones are checkpoints).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from kadr.config import Settings
from kadr.core.errors import PermanentJobError
from kadr.llm.errors import LLMInvalidAnswer, LLMNotConfigured, LLMRefused
from kadr.llm.gateway import Check, LLMCall, LLMGateway, get_gateway, model_signature
from kadr.llm.prompts import RenderedPrompt
from kadr.pipeline.base import ComponentContext, with_llm_calls

M = TypeVar("M", bound=BaseModel)

#: Errors no retry of the job can fix.
PERMANENT_LLM_ERRORS = (LLMInvalidAnswer, LLMRefused, LLMNotConfigured)


def signature_param(component: str, settings: Settings) -> str:
    """The `llm` parameter of a component that asks the model: the gateway's `engine:model`,
    read from settings without loading anything (so it is part of the run's config_hash).
    ValueError (a 422 when a run is created) when this installation has no language model."""
    try:
        return model_signature(settings)
    except LLMNotConfigured as error:
        raise ValueError(f"{component} needs a language model: {error}") from None


class ModelCalls:
    """One component's use of the gateway: `ask` for answers, `calls` for what they cost."""

    def __init__(self, ctx: ComponentContext, component: str) -> None:
        self.ctx = ctx
        self.component = component
        self.calls: list[LLMCall] = []
        self._gateway: LLMGateway | None = None

    @property
    def gateway(self) -> LLMGateway:
        if self._gateway is None:
            try:
                self._gateway = get_gateway(self.ctx.settings)
            except LLMNotConfigured as error:
                raise PermanentJobError(f"{self.component}: {error}") from error
        return self._gateway

    @property
    def signature(self) -> str:
        return self.gateway.signature

    def ask(
        self,
        prompt: RenderedPrompt,
        schema: type[M],
        *,
        purpose: str,
        language: str | None,
        check: Check[M] | None = None,
        max_tokens: int = 1024,
    ) -> M:
        """The model's answer as `schema`; on failure the calls spent so far travel with the error."""
        try:
            answer = self.gateway.generate_object(
                prompt,
                schema,
                purpose=purpose,
                language=language,
                check=check,
                max_tokens=max_tokens,
                check_cancelled=self.ctx.check_cancelled,
            )
        except Exception as error:
            spent = getattr(error, "llm_call", None)
            if isinstance(spent, LLMCall):
                self.calls.append(spent)
            if isinstance(error, PERMANENT_LLM_ERRORS):
                raise with_llm_calls(PermanentJobError(f"{self.component}: {error}"), self.calls) from error
            with_llm_calls(error, self.calls)
            raise
        self.calls.append(answer.call)
        return answer.value

    def summary(self) -> dict[str, object]:
        """What the component's summary says about its model use."""
        return {
            "llm": self.calls[-1].engine + ":" + self.calls[-1].model if self.calls else None,
            "llm_calls": len(self.calls),
            "llm_tokens": sum(call.tokens_in + call.tokens_out for call in self.calls),
        }
