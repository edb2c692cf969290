"""Settings: every knob is a `KADR_*` environment variable (or a line in `.env`)."""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """kadr's configuration. Switching embedded <-> distributed is configuration only."""

    model_config = SettingsConfigDict(env_prefix="KADR_", env_file=".env", extra="ignore")

    # --- where things live -------------------------------------------------
    data_dir: Path = Field(Path("var"), description="Root for the embedded database, storage and scratch.")
    database_url: str = Field(
        "", description="SQLAlchemy async URL; empty means sqlite+aiosqlite:///<data_dir>/kadr.db"
    )
    broker_url: str = Field(
        "memory://", description="memory:// (in-process), redis://host:port/db or amqp://user:pass@host:port/"
    )
    storage_url: str = Field(
        "", description="file:///path (default <data_dir>/storage) or s3://bucket?endpoint=http://host:port"
    )
    work_dir: Path | None = Field(None, description="Scratch space for workers; default <data_dir>/work")

    # --- database ----------------------------------------------------------
    db_pool_size: int = Field(10, description="PostgreSQL connection pool size per process")
    db_max_overflow: int = Field(10, description="PostgreSQL connections allowed above the pool size")
    db_pool_timeout: float = Field(5.0, description="Seconds to wait for a pooled connection before 503")
    sqlite_busy_timeout_ms: int = Field(30_000, description="SQLite busy timeout")

    # --- HTTP API ----------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = Field(
        "", description="Base URL clients use to reach the API (for links); default http://host:port"
    )
    max_upload_bytes: int = Field(4 * 1024**3, description="Largest accepted upload")
    cors_origins: list[str] = Field(default_factory=list)

    # --- auth --------------------------------------------------------------
    secret_key: SecretStr = Field(
        SecretStr("dev-insecure-change-me-0123456789abcdef"),
        description="Signs access tokens and signed links. Set a long random value in production.",
    )
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_days: int = 30
    allow_registration: bool = True
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed (comma-separated or "
        "a JSON list); empty (the default) ignores forwarded headers: the peer address is the client",
    )
    auth_cache_seconds: float = Field(
        5.0,
        description="How long a checked credential is trusted without asking the database again; "
        "a logout or revoked key takes effect in other processes within this time (0 disables)",
    )
    auth_cache_size: int = Field(10_000, description="Credentials the authentication cache holds at most")

    # --- jobs --------------------------------------------------------------
    job_lease_seconds: float = Field(
        60.0, description="A job's lease; a live worker renews it every heartbeat"
    )
    job_heartbeat_seconds: float = Field(
        5.0, description="How often a worker renews its lease and sees cancels"
    )
    job_max_attempts: int = 5
    job_backoff_base_seconds: float = 2.0
    job_backoff_max_seconds: float = 600.0
    job_redeliver_after_seconds: float = Field(
        60.0, description="A queued job whose message is this old without a claim is sent again"
    )
    worker_threads: int = Field(2, description="Concurrent jobs per worker process")
    worker_queues: list[str] = Field(default_factory=lambda: ["video", "publish", "notify", "llm"])

    # --- pipeline ----------------------------------------------------------
    cache_ttl_days: float = 3.0
    asr_model: str = Field(
        "auto",
        description="Whisper model: auto (tiny.en for English, base for other languages), tiny.en, "
        "base, or a path to a CTranslate2 model folder",
    )
    asr_device: Literal["cpu", "cuda", "auto"] = "cpu"
    asr_compute_type: str = "int8"
    asr_threads: int = 2
    asr_remote_url: str = Field(
        "", description="OpenAI-compatible /v1/audio/transcriptions server, instead of local"
    )
    asr_remote_api_key: SecretStr = SecretStr("")
    ffmpeg_binary: str = Field("", description="ffmpeg to use; default the one bundled by imageio-ffmpeg")
    ffmpeg_threads: int = Field(0, description="0 lets ffmpeg choose")
    work_niceness: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness of pipeline work (components and their ffmpeg), so the API answers first",
    )
    component_timeout_seconds: float = Field(4 * 3600.0, description="Deadline for one component")

    # --- language model (src/kadr/llm) ---------------------------------------
    llm_engine: Literal["local", "openai", "off"] = Field(
        "local",
        description="local: the embedded GGUF model on llama.cpp; openai: any OpenAI-compatible server; "
        "off: no language model (AI features answer 501)",
    )
    llm_local_model: str = Field(
        "qwen2.5-coder-1.5b",
        description="Embedded model: qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, smollm2-135m, or a .gguf path",
    )
    llm_url: str = Field("", description="OpenAI-compatible base URL with /v1, e.g. http://host:8080/v1")
    llm_api_key: SecretStr = SecretStr("")
    llm_model: str = Field("", description="Model name sent to the OpenAI-compatible server")
    llm_threads: int = Field(2, description="CPU threads of the embedded model")
    llm_context_tokens: int = Field(4096, description="Context window of the embedded model")
    llm_timeout_seconds: float = Field(
        120.0, description="Longest wait for one answer (remote: between streamed chunks)"
    )
    llm_max_retries: int = Field(3, description="Retries of a remote call answered 429/5xx or timed out")
    llm_repair_attempts: int = Field(
        2, description="Re-asks when an answer fails validation or comes in the wrong language"
    )
    llm_daily_tokens: int = Field(
        200_000, description="Tokens (prompt + answer) one user may spend per UTC day; 0 = unlimited"
    )
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "kadr" / "models",
        description="Where embedded models are assembled from their wheels (outside the checkout)",
    )

    # --- scheduler ---------------------------------------------------------
    scheduler_interval_seconds: float = Field(5.0, description="How often the scheduler runs its duties")

    # --- publishing: YouTube (Google OAuth 2.0) -----------------------------
    google_client_id: str = Field(
        "", description="OAuth client id of your Google Cloud project (web application)"
    )
    google_client_secret: SecretStr = Field(SecretStr(""), description="OAuth client secret")
    google_redirect_uri: str = Field(
        "", description="Authorized redirect URI; default <public_url>/v1/channels/youtube/callback"
    )
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    youtube_api_url: str = Field("https://www.googleapis.com", description="Data API and upload host")
    youtube_daily_quota_units: int = Field(
        10_000, description="Units per day per Google project for calls other than videos.insert"
    )
    youtube_daily_uploads: int = Field(100, description="videos.insert calls per day per Google project")
    youtube_upload_interval_seconds: float = Field(
        60.0, description="At most one upload per channel this often"
    )
    youtube_chunk_bytes: int = Field(
        8 * 1024 * 1024, description="Resumable upload chunk (a multiple of 256 KiB)"
    )
    publish_preflight_seconds: float = Field(
        3600.0, description="How long before a slot the channel's token is checked (owner notified if broken)"
    )
    oauth_state_ttl_seconds: int = Field(900, description="How long a channel connect link stays valid")

    # --- publishing: Telegram ----------------------------------------------
    telegram_api_url: str = "https://api.telegram.org"
    telegram_max_upload_bytes: int = Field(50 * 1024 * 1024, description="Bot API upload limit")
    telegram_send_interval_seconds: float = Field(1.0, description="At most one post per chat this often")

    # --- notifications -----------------------------------------------------
    smtp_host: str = Field("", description="SMTP server for email notifications; empty disables email")
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = Field(True, description="Upgrade with STARTTLS (port 587)")
    smtp_tls: bool = Field(False, description="Implicit TLS (port 465)")
    smtp_sender: str = "kadr <kadr@localhost>"
    allowed_private_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts/IPs/CIDRs that webhooks may reach although private or loopback (default none)",
    )
    notify_max_attempts: int = Field(8, description="Attempts per notification delivery before it is dead")

    # --- observability -----------------------------------------------------
    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        """`10.0.0.1, 10.1.0.0/16` or `["10.0.0.1"]`; every entry must be an IP or a CIDR."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                value = json.loads(text)
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        if isinstance(value, list):
            for entry in value:
                ipaddress.ip_network(str(entry).strip(), strict=False)  # ValueError -> settings error
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'kadr.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "storage").resolve().as_uri()

    @property
    def resolved_work_dir(self) -> Path:
        return (self.work_dir or self.data_dir / "work").resolve()

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_google_redirect_uri(self) -> str:
        return self.google_redirect_uri or f"{self.resolved_public_url}/v1/channels/youtube/callback"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
