"""Whose data a pipeline holds: the Pipedrive company behind its credentials, checked before every run reads.

The first run of a pipeline records the company it loads in the source's state (`ACCOUNT_STATE_KEY`): the
company's id, name and domain as `users/me` gives them (every token may read it, 2 tokens) and the way in
(Maton with its connection id, or directly with the company's URL). Every later run asks `users/me` once,
before its first request for data (`AccountGate`, which the client calls), and compares:

- the same company, whatever the way in (a Maton reconnect gives a new connection id): the run goes on and
  the state records the new way in;
- another company (another key, a Maton default connection that changed, another `base_url`): the run stops
  with `OtherCompany`, which names both companies, the pipeline, where its data lives and the ways out.
  Nothing is read or loaded.

State written during a failed extraction is not kept (dlt rolls it back), so a refused run leaves the
recorded company as it was. `refresh="drop_sources"` (`pipedrive-source run --full-refresh` without
`--resources`) wipes the source's state with its tables: the next company is recorded afresh.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

import dlt
from dlt.common.configuration.container import Container
from dlt.common.exceptions import PipelineStateNotAvailable, SourceSectionNotAvailable
from dlt.common.pipeline import PipelineContext, pipeline_state

from pipedrive_source.config import ConnectionSettings
from pipedrive_source.errors import PipedriveError
from pipedrive_source.guards.where import data_location

ACCOUNT_STATE_KEY = "account"
"""The key of the source's state holding the company a pipeline loads."""


@dataclass(frozen=True)
class AccountIdentity:
    """The Pipedrive company behind a set of credentials, and the way to it.

    Attributes:
        company_id: Pipedrive's id of the company: what tells two accounts apart.
        company_name: the company's name, for people.
        company_domain: the company's subdomain (`acme` of `acme.pipedrive.com`).
        way_in: `maton` or `direct`.
        connection_id: the Maton connection (None: the key's oldest active one, or direct).
        base_url: the gateway or the company's own API URL.
        user_id: the Pipedrive user whose rights the credentials carry.
    """

    company_id: int
    company_name: str
    company_domain: str
    way_in: str
    connection_id: str | None
    base_url: str
    user_id: int | None = None

    @classmethod
    def from_users_me(cls, me: Mapping[str, Any], settings: ConnectionSettings) -> AccountIdentity:
        """The identity in the answer of `users/me`, reached with `settings`."""
        company_id = me.get("company_id")
        if not isinstance(company_id, int):
            raise PipedriveError(
                f"Pipedrive's users/me answered without a company id ({company_id!r}) at "
                f"{settings.base_url}: base_url must be the Maton gateway (https://api.maton.ai/pipedrive) "
                "or your company's Pipedrive URL (https://{company}.pipedrive.com)."
            )
        user_id = me.get("id")
        return cls(
            company_id=company_id,
            company_name=str(me.get("company_name") or ""),
            company_domain=str(me.get("company_domain") or ""),
            way_in=settings.layer,
            connection_id=settings.connection_id,
            base_url=settings.base_url,
            user_id=user_id if isinstance(user_id, int) else None,
        )

    @classmethod
    def from_state(cls, value: Any) -> AccountIdentity | None:
        """The identity a pipeline's state recorded; None if it recorded none (or an unreadable one)."""
        if not isinstance(value, Mapping) or not isinstance(value.get("company_id"), int):
            return None
        user_id = value.get("user_id")
        connection_id = value.get("connection_id")
        return cls(
            company_id=value["company_id"],
            company_name=str(value.get("company_name") or ""),
            company_domain=str(value.get("company_domain") or ""),
            way_in=str(value.get("way_in") or ""),
            connection_id=str(connection_id) if connection_id else None,
            base_url=str(value.get("base_url") or ""),
            user_id=user_id if isinstance(user_id, int) else None,
        )

    def as_state(self) -> dict[str, Any]:
        return asdict(self)

    def same_company(self, other: AccountIdentity) -> bool:
        return self.company_id == other.company_id

    @property
    def company(self) -> str:
        """`Acme Ltd (acme.pipedrive.com, company 1234567)`."""
        domain = f"{self.company_domain}.pipedrive.com, " if self.company_domain else ""
        return f"{self.company_name or 'an unnamed company'} ({domain}company {self.company_id})"

    @property
    def route(self) -> str:
        """`Maton connection 21fd...` / `the Maton key's oldest active connection` / `https://acme...`."""
        if self.way_in == "maton":
            if self.connection_id:
                return f"Maton connection {self.connection_id}"
            return "the Maton key's oldest active connection"
        return f"Pipedrive directly at {self.base_url}"


class OtherCompany(PipedriveError):
    """The credentials reach another company than the one whose data the pipeline holds."""

    def __init__(self, recorded: AccountIdentity, current: AccountIdentity, pipeline: dlt.Pipeline) -> None:
        self.recorded = recorded
        self.current = current
        name = pipeline.pipeline_name
        super().__init__(
            f"Pipeline {name!r} holds the data of Pipedrive company {recorded.company}, loaded through "
            f"{recorded.route}, in the {data_location(pipeline)}; the credentials of this run reach "
            f"another company, {current.company}, through {current.route}. Nothing was read or loaded. "
            f"To load {current.company_name or 'it'} beside the other, give it its own pipeline and "
            f"dataset: `pipedrive-source run --pipeline-name {name}_{current.company_id} --dataset-name "
            f"{pipeline.dataset_name}_{current.company_id}` (in Python: make_pipeline(pipeline_name=..., "
            "dataset_name=...)). To replace the loaded company's tables with this one's, start over: "
            "`pipedrive-source run --full-refresh` without --resources drops every table and the state of "
            'this pipeline (in Python: refresh="drop_sources"). If you meant to load '
            f"{recorded.company_name or 'the loaded company'}, point the credentials back at it "
            "(MATON_API_KEY, sources.pipedrive.connection_id or base_url)."
        )


_known: ContextVar[AccountIdentity | None] = ContextVar("pipedrive_known_account", default=None)


@contextlib.contextmanager
def known_account(identity: AccountIdentity) -> Iterator[None]:
    """Runs within the block use `identity` for their check instead of asking `users/me` again.

    For callers that identified the account before making its pipeline (several accounts, named by
    company): the check still compares it with the pipeline's state, and a run spends one request on it.
    """
    token = _known.set(identity)
    try:
        yield
    finally:
        _known.reset(token)


class AccountGate:
    """The account behind a source's credentials, asked once per source instance (see the module
    docstring), and its check against a pipeline's state."""

    def __init__(self, settings: ConnectionSettings, ask_users_me: Callable[[], Mapping[str, Any]]) -> None:
        self._settings = settings
        self._ask_users_me = ask_users_me
        self._identity: AccountIdentity | None = None
        self._lock = threading.Lock()

    def identity(self) -> AccountIdentity:
        """The account behind the source's credentials (`users/me`, asked once)."""
        with self._lock:
            if self._identity is None:
                self._identity = self._identify()
            return self._identity

    def check(self, state: dict[str, Any], pipeline: dlt.Pipeline) -> None:
        """Record the account in the source's `state`, or refuse another company.

        Raises:
            OtherCompany: the state records another company.
        """
        identity = self.identity()
        recorded = AccountIdentity.from_state(state.get(ACCOUNT_STATE_KEY))
        if recorded is not None and not recorded.same_company(identity):
            raise OtherCompany(recorded, identity, pipeline)
        if recorded != identity:
            state[ACCOUNT_STATE_KEY] = identity.as_state()

    def _identify(self) -> AccountIdentity:
        known = _known.get()
        if known is not None and (known.base_url, known.connection_id) == (
            self._settings.base_url,
            self._settings.connection_id,
        ):
            return known
        return AccountIdentity.from_users_me(self._ask_users_me(), self._settings)


def running_extraction() -> tuple[dict[str, Any], dlt.Pipeline] | None:
    """The source's writable state and the pipeline extracting it; None outside an extraction (a source
    iterated without a pipeline: nothing to compare with or record)."""
    container = Container()
    _, writable = pipeline_state(container)
    if not writable:
        return None
    try:
        state = dlt.current.source_state()
    except (SourceSectionNotAvailable, PipelineStateNotAvailable):
        return None
    pipeline = container[PipelineContext].pipeline()
    return (state, pipeline) if isinstance(pipeline, dlt.Pipeline) else None


def recorded_account(pipeline: dlt.Pipeline, source_name: str | None = None) -> AccountIdentity | None:
    """The company a pipeline's state says it holds (None before its first load, or for an older pipeline
    that never recorded it)."""
    name = source_name or pipeline.default_schema_name
    if name is None:
        return None
    sources = pipeline.state.get("sources") or {}
    return AccountIdentity.from_state((sources.get(name) or {}).get(ACCOUNT_STATE_KEY))
