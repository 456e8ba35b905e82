"""End-to-end: the child tables (deal products and installments, followers, participants, the deal flow,
organization relationships) on a full load, then on an incremental run after changes, and after a run that
stopped on its token budget.

Replays `cassettes/test_children/`, recorded from the simulator through the Maton layer (a smaller account
than `test_load`: its per-parent requests make a cassette per parent). Expected rows come from what the API
answered (the cassette), never from the code under test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dlt
import pytest
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.children.backlog import UNREAD_KEY
from pipedrive_source.children.resources import BACKLOG_SUFFIX
from pipedrive_source.children.tables import CHILDREN, MAX_PARENT_IDS
from pipedrive_source.deletes import reconciling_deletes
from pipedrive_source.progress import track_usage
from pipedrive_source.token_costs import cost_of
from tests.e2e import oracle
from tests.e2e.conftest import (
    RECORDING_KEY,
    REPLAY_BASE_URL,
    SEED,
    Gateway,
    RequestCounter,
    _configured,
    one_request_at_a_time,
)

pytestmark = [pytest.mark.vcr, pytest.mark.simulator_only]

DEALS = 100
"""The account's size: every deal costs a few child requests on a full load."""

PARENTS = ("deals", "archived_deals", "persons", "organizations", "products", "stages")
CHILD_RESOURCES = tuple(
    name
    for child in CHILDREN
    for name in (
        child.name,
        *((f"{child.name}_of_archived_deals",) if child.parent == "deals" else ()),
        child.name + BACKLOG_SUFFIX,
    )
)
PARENT_LISTS = {
    "deals": ("api/v2/deals", "api/v2/deals/archived"),
    "persons": ("api/v2/persons",),
    "organizations": ("api/v2/organizations",),
    "products": ("api/v2/products",),
}
"""The lists of each parent table's records: archived deals have children too."""

# What the query in the README answers: when each deal entered each stage.
ENTERED_STAGES = """
select deal_id, cast(new_value as bigint) as stage_id, min(changed_at) as entered_at, count(*) as times
from deal_changes
where field_key = 'stage_id' and new_value is not null
group by deal_id, stage_id
"""


def small_account(
    record_mode: str, monkeypatch: pytest.MonkeyPatch, deals: int = DEALS, connections: int = 1
) -> Iterator[Gateway]:
    """The gateway of these tests: the simulator with `deals` deals per account (`connections` accounts
    behind one key) while recording, the cassette in replay.

    No client-side pacing. One extract worker and one request at a time, in replay too: vcrpy loses
    interactions recorded from several threads at once (kevin1024/vcrpy#849), and a run that stops on its
    token budget must stop at the same request in replay.
    """
    monkeypatch.setenv("SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND", "0")
    monkeypatch.setenv("EXTRACT__WORKERS", "1")
    one_request_at_a_time(monkeypatch)
    if record_mode == "none":
        yield from _configured(Gateway(REPLAY_BASE_URL, RECORDING_KEY), monkeypatch)
        return
    from pipedrive_source.testing import simulator

    with simulator(
        seed=SEED, deals=deals, connections=connections, api_key=RECORDING_KEY, rate_limit=1000.0
    ) as sim:
        yield from _configured(Gateway(sim.base_url, sim.api_key, sim), monkeypatch)


@pytest.fixture
def gateway(record_mode: str, clean_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    yield from small_account(record_mode, monkeypatch)


@dataclass(frozen=True)
class Check:
    """How to read one child table's expected rows from the API's answers, and its rows from the table."""

    path: str
    """A regular expression of the request path; its group 1 is the parent id, if in the path."""
    parent_key: str
    columns: tuple[str, ...]
    """The table's columns identifying a child row, after `parent_key`."""
    key: Callable[[dict[str, Any]], tuple[Any, ...]]
    """The same values from an API record."""
    parent_param: str | None = None
    records: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda data: data


def _deal_changes(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item["data"] for item in data if item["object"] == "dealChange"]


CHECKS = {
    "deal_products": Check(
        "api/v2/deals/products", "deal_id", ("id", "quantity"), lambda r: (r["id"], float(r["quantity"]))
    ),
    "deal_installments": Check(
        "api/v2/deals/installments",
        "deal_id",
        ("id", "billing_date::text"),
        lambda r: (r["id"], r["billing_date"]),
    ),
    "deal_followers": Check(
        r"api/v2/deals/(\d+)/followers", "deal_id", ("user_id",), lambda r: (r["user_id"],)
    ),
    "person_followers": Check(
        r"api/v2/persons/(\d+)/followers", "person_id", ("user_id",), lambda r: (r["user_id"],)
    ),
    "organization_followers": Check(
        r"api/v2/organizations/(\d+)/followers", "org_id", ("user_id",), lambda r: (r["user_id"],)
    ),
    "product_followers": Check(
        r"api/v2/products/(\d+)/followers", "product_id", ("user_id",), lambda r: (r["user_id"],)
    ),
    "deal_participants": Check(
        r"api/v1/deals/(\d+)/participants",
        "deal_id",
        ("id", "person_id"),
        lambda r: (r["id"], r["person_id"]["value"]),
    ),
    "deal_changes": Check(
        r"api/v1/deals/(\d+)/flow",
        "deal_id",
        ("id", "field_key", "strftime(changed_at, '%Y-%m-%d %H:%M:%S')"),
        lambda r: (r["id"], r["field_key"], r["log_time"]),
        records=_deal_changes,
    ),
    "organization_relationships": Check(
        "api/v1/organizationRelationships", "org_id", ("id",), lambda r: (r["id"],), parent_param="org_id"
    ),
}


def _answers(
    vcr: Cassette, path: str, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int | None, list[dict[str, Any]], dict[str, list[str]]]]:
    """(parent id in the path or None, `data`, query) of each successful GET of a path matching `path`, in
    interactions start:stop."""
    for request, response in vcr.data[start:stop]:
        url = urlsplit(request.uri)
        match = re.search(f"/{path}$", url.path)
        if request.method != "GET" or match is None or response["status"]["code"] != 200:
            continue
        body = json.loads(response["body"]["string"])
        parent = int(match.group(1)) if match.groups() else None
        yield parent, body.get("data") or [], parse_qs(url.query)


def _answered(vcr: Cassette, check: Check, start: int, stop: int | None) -> dict[Any, set[tuple[Any, ...]]]:
    """The children per parent that the API answered in interactions start:stop."""
    found: dict[Any, set[tuple[Any, ...]]] = {}
    for parent, data, query in _answers(vcr, check.path, start, stop):
        if check.parent_param is not None:
            parent = int(query[check.parent_param][0])
        records = check.records(data)
        if parent is not None:
            found.setdefault(parent, set()).update(check.key(r) for r in records)
        for record in records if parent is None else ():
            found.setdefault(record[check.parent_key], set()).add(check.key(record))
    return found


def _requested(vcr: Cassette, check: Check, start: int, stop: int | None) -> list[Any]:
    """The parent ids of the per-parent requests in interactions start:stop (one entry per request)."""
    parents = []
    for parent, _, query in _answers(vcr, check.path, start, stop):
        parents.append(int(query[check.parent_param][0]) if check.parent_param else parent)
    return parents


def _loaded(pipeline: dlt.Pipeline, table: str, check: Check) -> dict[Any, set[tuple[Any, ...]]]:
    found: dict[Any, set[tuple[Any, ...]]] = {}
    for parent, *key in _query(
        pipeline, f"select {check.parent_key}, {', '.join(check.columns)} from {table}"
    ):
        found.setdefault(parent, set()).add(tuple(key))
    return found


def _query(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql)]


def _live_with_children(parents: dict[int, dict[str, Any]], count_field: str | None) -> set[int]:
    return {
        parent_id
        for parent_id, parent in parents.items()
        if not parent.get("is_deleted") and (count_field is None or parent.get(count_field) != 0)
    }


def _parents_read(vcr: Cassette, start: int, stop: int | None) -> dict[str, dict[int, dict[str, Any]]]:
    """The parents each parent list answered in interactions start:stop that had changed since the last
    answer before: the records of the second an incremental read reads again, unchanged, are not read."""
    read = {}
    for name, paths in PARENT_LISTS.items():
        before = {i: r for path in paths for i, r in oracle.records(vcr, path, 0, start).items()}
        now = {i: r for path in paths for i, r in oracle.records(vcr, path, start, stop).items()}
        read[name] = {i: record for i, record in now.items() if before.get(i) != record}
    return read


def _expected_after(
    vcr: Cassette, before: dict[str, dict[Any, set[tuple[Any, ...]]]], start: int, stop: int | None
) -> dict[str, dict[Any, set[tuple[Any, ...]]]]:
    """What the child tables hold after the run of interactions start:stop, given what they held before:
    the children of every parent read replace its previous ones; a parent read changed whose count field
    says zero has none any more."""
    parent_answers = _parents_read(vcr, start, stop)
    after = {}
    for child in CHILDREN:
        state = {parent: set(rows) for parent, rows in before.get(child.name, {}).items()}
        for parent_id, parent in parent_answers[child.parent].items():
            if child.count_field and parent.get(child.count_field) == 0 and not parent.get("is_deleted"):
                state.pop(parent_id, None)
        for parent_id, rows in _answered(vcr, CHECKS[child.name], start, stop).items():
            state[parent_id] = rows
        after[child.name] = {parent: rows for parent, rows in state.items() if rows}
    return after


def _check_tables(pipeline: dlt.Pipeline, expected: dict[str, dict[Any, set[tuple[Any, ...]]]]) -> None:
    for child in CHILDREN:
        assert _loaded(pipeline, child.name, CHECKS[child.name]) == expected[child.name], child.name


def _check_requests(vcr: Cassette, sent: RequestCounter, start: int, stop: int | None) -> None:
    """Bulk endpoints in batches of ids, per-parent ones once per parent read with children."""
    parents = _parents_read(vcr, start, stop)
    # batches of up to 100 deals of each list (the archived deals come in pages of their own)
    batches = 0
    for path in PARENT_LISTS["deals"]:
        listed = oracle.records(vcr, path, start, stop)
        live = [i for i, deal in listed.items() if i in parents["deals"] and not deal["is_deleted"]]
        batches += -(-len(live) // MAX_PARENT_IDS)
    for bulk in ("api/v2/deals/products", "api/v2/deals/installments"):
        assert sent.to(bulk) == batches, bulk
    # never the per-deal forms of the bulk endpoints
    assert not [path for path in sent.paths if re.search(r"/deals/\d+/(products|installments)$", path)]
    for child in CHILDREN:
        if child.bulk:
            continue
        requested = _requested(vcr, CHECKS[child.name], start, stop)
        assert len(requested) == len(set(requested)), f"{child.name}: a parent read twice"
        assert set(requested) == _live_with_children(parents[child.parent], child.count_field), child.name


def _entered_stages(pipeline: dlt.Pipeline) -> dict[int, dict[int, str]]:
    """The README's answer to "when did each deal enter each stage", from `deal_changes`."""
    entered: dict[int, dict[int, str]] = {}
    for deal_id, stage_id, at, _ in _query(pipeline, ENTERED_STAGES):
        entered.setdefault(deal_id, {})[stage_id] = at.strftime("%Y-%m-%d %H:%M:%S")
    return entered


def _stages_entered_in_flows(vcr: Cassette, start: int, stop: int | None) -> dict[int, dict[int, str]]:
    """The same from the flows the API answered: the first time of each stage a deal's `stage_id` changed
    to, in the last flow read of each deal."""
    flows: dict[int, list[dict[str, Any]]] = {}
    for deal_id, data, _ in _answers(vcr, CHECKS["deal_changes"].path, start, stop):
        flows[deal_id] = _deal_changes(data)
    entered: dict[int, dict[int, str]] = {}
    for deal_id, changes in flows.items():
        for change in changes:
            if change["field_key"] == "stage_id" and change["new_value"] is not None:
                stages = entered.setdefault(deal_id, {})
                stage = int(change["new_value"])
                stages[stage] = min(stages.get(stage, change["log_time"]), change["log_time"])
    return entered


def _pick(pipeline: dlt.Pipeline, sql: str) -> Any:
    rows = _query(pipeline, sql)
    assert rows, sql
    return rows[0]


@dataclass
class Changes:
    """The changes made between the runs, picked from the loaded tables (so the same in replay)."""

    unfollowed_deal: int
    unfollowed_user: int
    repriced_deal: int
    attachment: int
    moved_deal: int
    new_stage: int
    emptied_deal: int
    last_follower: int
    unfollowed_person: int
    person_unfollower: int


def _pick_changes(pipeline: dlt.Pipeline) -> Changes:
    unfollowed_deal, unfollowed_user = _pick(
        pipeline,
        "select deal_id, max(user_id) from deal_followers where deal_id in (select id from deals where "
        "status = 'open') group by deal_id having count(*) >= 2 order by deal_id limit 1",
    )
    repriced_deal, attachment = _pick(
        pipeline,
        f"select deal_id, min(id) from deal_products where deal_id <> {unfollowed_deal} "
        "group by deal_id order by deal_id limit 1",
    )
    moved_deal, new_stage = _pick(
        pipeline,
        "select d.id, s.id from deals d "
        "join stages s on s.pipeline_id = d.pipeline_id and s.id <> d.stage_id "
        f"where d.status = 'open' and d.id not in ({unfollowed_deal}, {repriced_deal}) "
        "order by d.id, s.id limit 1",
    )
    emptied_deal, last_follower = _pick(
        pipeline,
        "select deal_id, min(user_id) from deal_followers "
        "where deal_id in (select id from deals where status = 'open') "
        f"and deal_id not in ({unfollowed_deal}, {repriced_deal}, {moved_deal}) "
        "group by deal_id having count(*) = 1 order by deal_id limit 1",
    )
    unfollowed_person, person_unfollower = _pick(
        pipeline, "select person_id, min(user_id) from person_followers group by person_id order by 1 limit 1"
    )
    return Changes(
        unfollowed_deal,
        unfollowed_user,
        repriced_deal,
        attachment,
        moved_deal,
        new_stage,
        emptied_deal,
        last_follower,
        unfollowed_person,
        person_unfollower,
    )


def _make_changes(gateway: Gateway, changes: Changes) -> None:
    """In Pipedrive a deal changes with its products (its value); a follower comes and goes on its own."""
    if gateway.sim is None:
        return
    account = gateway.sim.account()
    account.remove_follower("deals", changes.unfollowed_deal, changes.unfollowed_user)
    account.update("deals", changes.unfollowed_deal, {"title": "Lost a follower"})
    account.update_deal_product(changes.repriced_deal, changes.attachment, {"quantity": 7})
    account.update("deals", changes.repriced_deal, {"title": "Seven of them"})
    account.update("deals", changes.moved_deal, {"stage_id": changes.new_stage})
    account.remove_follower("deals", changes.emptied_deal, changes.last_follower)
    account.update("deals", changes.emptied_deal, {"title": "Nobody follows"})
    # a follower leaves a person, which does not change
    account.remove_follower("persons", changes.unfollowed_person, changes.person_unfollower)


@pytest.mark.usefixtures("gateway")
def test_children_of_changed_parents_replace_their_previous_ones(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()

    pipeline.run(pipedrive_source().with_resources(*PARENTS, *CHILD_RESOURCES))

    run_1 = len(sent)
    expected = _expected_after(vcr, {}, 0, run_1)
    assert all(expected[child.name] for child in CHILDREN), [c.name for c in CHILDREN if not expected[c.name]]
    _check_tables(pipeline, expected)
    _check_requests(vcr, sent, 0, run_1)
    assert _entered_stages(pipeline) == _stages_entered_in_flows(vcr, 0, run_1)
    archived = oracle.records(vcr, "api/v2/deals/archived", 0, run_1)
    live_archived = {deal_id for deal_id, deal in archived.items() if not deal["is_deleted"]}
    # archived deals have their history (and products, followers, ...) too
    assert live_archived and live_archived <= set(_loaded(pipeline, "deal_changes", CHECKS["deal_changes"]))

    changes = _pick_changes(pipeline)
    _make_changes(gateway, changes)
    sent.clear()

    pipeline.run(pipedrive_source().with_resources(*PARENTS, *CHILD_RESOURCES))

    run_2 = run_1 + len(sent)
    changed_deals = {changes.unfollowed_deal, changes.repriced_deal, changes.moved_deal, changes.emptied_deal}
    assert set(_parents_read(vcr, run_1, run_2)["deals"]) == changed_deals
    expected = _expected_after(vcr, expected, run_1, run_2)
    _check_tables(pipeline, expected)
    _check_requests(vcr, sent, run_1, run_2)
    # unchanged parents cost no child request: one bulk batch, and per-parent requests for changed deals only
    flows = _requested(vcr, CHECKS["deal_changes"], run_1, run_2)
    assert sorted(flows) == sorted(changed_deals)
    assert not _requested(vcr, CHECKS["person_followers"], run_1, run_2)
    followers = _loaded(pipeline, "deal_followers", CHECKS["deal_followers"])
    assert (changes.unfollowed_user,) not in followers[changes.unfollowed_deal]
    assert changes.emptied_deal not in followers
    assert _query(pipeline, f"select quantity from deal_products where id = {changes.attachment}") == [(7.0,)]
    entered = _entered_stages(pipeline)
    assert _stages_entered_in_flows(vcr, 0, run_2) == entered
    assert changes.new_stage in entered[changes.moved_deal]
    # a follower who left a person that did not change is still listed: seen on reconciliation, below
    person_followers = _loaded(pipeline, "person_followers", CHECKS["person_followers"])
    assert (changes.person_unfollower,) in person_followers[changes.unfollowed_person]

    with reconciling_deletes():
        pipeline.run(pipedrive_source().with_resources(*PARENTS, *CHILD_RESOURCES, "persons_deletes"))
    pipeline.run(pipedrive_source().with_resources(*PARENTS, *CHILD_RESOURCES))

    # the scan saw the person's followers_count change: its followers were read again
    assert _requested(vcr, CHECKS["person_followers"], run_2, None) == [changes.unfollowed_person]
    expected = _expected_after(vcr, expected, run_2, None)
    _check_tables(pipeline, expected)
    person_followers = _loaded(pipeline, "person_followers", CHECKS["person_followers"])
    assert (changes.person_unfollower,) not in person_followers.get(changes.unfollowed_person, set())


@pytest.mark.usefixtures("gateway")
def test_parents_left_unread_by_a_stopped_run_are_read_first_by_the_next(
    vcr: Cassette, sent: RequestCounter, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()
    resources = ("deals", "deal_changes", "deal_changes" + BACKLOG_SUFFIX)
    flows_affordable = 20
    cap = (
        cost_of("GET", "api/v1/users/me")  # the account check
        + cost_of("GET", "api/v2/dealFields")
        + cost_of("GET", "api/v2/deals")
        + flows_affordable * cost_of("GET", "api/v1/deals/1/flow")
    )

    with track_usage(token_cap=cap) as usage:
        pipeline.run(pipedrive_source().with_resources(*resources))

    assert usage.stop_reason is not None
    run_1 = len(sent)
    deals = oracle.records(vcr, "api/v2/deals", 0, run_1)
    assert {row[0] for row in _query(pipeline, "select id from deals")} == set(deals)
    live = {deal_id for deal_id, deal in deals.items() if not deal["is_deleted"]}
    read = _requested(vcr, CHECKS["deal_changes"], 0, run_1)
    assert len(read) == flows_affordable
    state = pipeline.state["sources"]["pipedrive"]["resources"]["deal_changes"]
    unread = state[UNREAD_KEY]
    assert sorted([*read, *unread]) == sorted(live)
    assert {row[0] for row in _query(pipeline, "select distinct deal_id from deal_changes")} <= set(read)
    sent.clear()

    pipeline.run(pipedrive_source().with_resources(*resources))

    # no deal changed: the only flows read are those left unread
    assert sorted(_requested(vcr, CHECKS["deal_changes"], run_1, None)) == sorted(unread)
    assert not pipeline.state["sources"]["pipedrive"]["resources"]["deal_changes"].get(UNREAD_KEY)
    expected = _answered(vcr, CHECKS["deal_changes"], 0, None)
    assert _loaded(pipeline, "deal_changes", CHECKS["deal_changes"]) == expected
    assert set(expected) == live
