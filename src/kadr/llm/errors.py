"""What can go wrong when kadr asks a language model, classified for clients and for jobs.

Transient failures (`LLMUnavailable`) are retried by jobs; the rest are permanent for the
request that caused them.
"""

from __future__ import annotations

from kadr.core.errors import NotConfigured, ProviderError, RateLimited, ServiceUnavailable


class LLMNotConfigured(NotConfigured):
    """This installation has no language model (`KADR_LLM_ENGINE=off`, or the runtime is missing)."""

    slug, title = "not-configured", "No language model is configured on this server"


class LLMUnavailable(ServiceUnavailable):
    """The model did not answer: timeouts, 429 and 5xx after the retries. Worth trying later."""

    slug, title = "llm-unavailable", "The language model is unavailable"

    def __init__(self, detail: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds
        if retry_after_seconds is not None:
            self.headers["Retry-After"] = str(max(1, round(retry_after_seconds)))


class LLMRefused(ProviderError):
    """The provider refused the request (a 4xx other than 429): retrying cannot help."""

    slug, title = "llm-refused", "The language model provider refused the request"


class LLMInvalidAnswer(ProviderError):
    """The model's answers failed validation (shape, rules or language) after every repair."""

    slug, title = "llm-invalid-answer", "The language model gave no valid answer"


class LLMBudgetExceeded(RateLimited):
    """The user's daily token budget is spent."""

    slug, title = "llm-budget-exceeded", "Daily language model budget spent"

    def __init__(self, detail: str, *, retry_after_seconds: float) -> None:
        super().__init__(detail, retry_after_seconds=round(retry_after_seconds))
        self.headers["Retry-After"] = str(max(1, round(retry_after_seconds)))
