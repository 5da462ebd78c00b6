"""The pool on disk: writes, dedup, retrieval, the transfer guard, feedback and errors."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from carryover.pool.config import RankingConfig
from carryover.pool.embedding.base import Embedder
from carryover.pool.importer import import_file
from carryover.pool.jsonl import write_lines
from carryover.pool.records import Kind, MemoryDraft, Outcome, Provenance, SearchQuery, Status
from carryover.pool.store import (
    EmbedderMismatch,
    MemoryNotFound,
    MemoryStore,
    PoolCorrupt,
    PoolVersionError,
)
from tests.support.pools import EXAMPLES, pool_config

NONE_CHECK = MemoryDraft(
    kind="insight",
    title="Guard optional values before indexing into them",
    description="Use when a value that can be absent (None, null, nil) is indexed or dereferenced.",
    content="Check for the empty value where it enters and decide there whether to fail or default.",
    languages=["rust"],
    tools=["cargo"],
)
TRAJECTORY_JS = MemoryDraft(
    kind="trajectory",
    title="npm test failed: Cannot read properties of undefined (reading 'map')",
    content="$ npm test\nTypeError: Cannot read properties of undefined (reading 'map')\n$ npm test\nok",
    languages=["javascript"],
    tools=["npm"],
)
PIN_DEPENDENCY = MemoryDraft(
    kind="insight",
    title="Pin the dependency version that was tested",
    description="Use when a build breaks after a fresh install although the code did not change.",
    content="Record exact versions in a lockfile and upgrade one dependency at a time.",
    languages=["python"],
)


def titles(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [hit.memory.title for hit in hits]


def test_add_then_read_back(store: MemoryStore) -> None:
    result = store.add(NONE_CHECK)
    assert result.action == "added"
    memory = store.get_required(result.id)
    assert memory.title == NONE_CHECK.title
    assert memory.kind is Kind.INSIGHT
    assert memory.languages == ("rust",)
    assert memory.status is Status.ACTIVE
    assert memory.embedder == "sentence-transformers/all-MiniLM-L6-v2"
    assert store.count() == 1


def test_the_same_memory_twice_is_one_row(store: MemoryStore) -> None:
    first = store.add(NONE_CHECK)
    second = store.add(attrs.evolve(NONE_CHECK, provenance=Provenance(episode_ids=("ep-2",))))
    assert second.action == "merged"
    assert second.id == first.id
    memory = store.get_required(first.id)
    assert memory.merged_count == 1
    assert memory.provenance.episode_ids == ("ep-2",)
    assert store.count() == 1


def test_a_near_identical_memory_merges_and_unions_languages(store: MemoryStore) -> None:
    store.add(NONE_CHECK)
    reworded = attrs.evolve(
        NONE_CHECK,
        title="Guard optional values before indexing into them.",
        content="Check for the empty value where it enters, and decide there whether to fail or default.",
        languages=["go"],
        provenance=Provenance(episode_ids=("ep-go",)),
    )
    result = store.add(reworded)
    assert result.action == "merged"
    memory = store.get_required(result.id)
    assert memory.languages == ("go", "rust")
    assert memory.provenance.episode_ids == ("ep-go",)
    assert store.count() == 1


def test_the_same_title_with_other_advice_merges_only_where_the_pool_embeds_no_content(
    tmp_path: Path, minilm: Embedder
) -> None:
    other_advice = attrs.evolve(
        NONE_CHECK, content="Wrap every access in try/except and log the KeyError.", languages=["go"]
    )
    whole_text = MemoryStore(pool_config(tmp_path / "all"), minilm)
    whole_text.add(NONE_CHECK)
    assert whole_text.add(other_advice).action == "added"
    headline = MemoryStore(pool_config(tmp_path / "headline", embed_key="title+description"), minilm)
    headline.add(NONE_CHECK)
    assert headline.add(other_advice).action == "merged"


def test_a_different_outcome_or_kind_never_merges(store: MemoryStore) -> None:
    store.add(NONE_CHECK)
    assert store.add(attrs.evolve(NONE_CHECK, outcome=Outcome.FAILURE)).action == "added"
    assert store.add(attrs.evolve(NONE_CHECK, kind=Kind.SUMMARY)).action == "added"
    assert store.count() == 3


def test_distinct_memories_stay_distinct(store: MemoryStore) -> None:
    report = import_file(store, EXAMPLES)
    lines = [line for line in EXAMPLES.read_text().splitlines() if line.strip()]
    assert (report.added, report.merged, report.rejected) == (len(lines), 0, 0)


def test_search_finds_a_lesson_learned_in_another_language(store: MemoryStore) -> None:
    import_file(store, EXAMPLES)
    hits = store.search(
        SearchQuery(text="TypeError: 'NoneType' object is not subscriptable", language="python", k=3)
    )
    assert hits, "a relevant insight exists"
    top = hits[0]
    assert top.memory.title == "Guard optional values before indexing into them"
    assert top.why.guard == "transferred from rust"
    assert top.why.abstraction_weight == pytest.approx(RankingConfig().cross_language_factor)
    assert 0 < top.why.similarity <= 1


def test_transfer_guard_withholds_raw_traces_from_other_languages(store: MemoryStore) -> None:
    store.add(TRAJECTORY_JS)
    query = "TypeError: Cannot read properties of undefined (reading 'map')"
    assert store.search(SearchQuery(text=query, language="python")) == []
    same_language = store.search(SearchQuery(text=query, language="javascript"))
    assert titles(same_language) == [TRAJECTORY_JS.title]
    assert same_language[0].why.guard == "same language (javascript)"


def test_abstraction_weight_prefers_insights(store: MemoryStore) -> None:
    insight = store.add(PIN_DEPENDENCY)
    trajectory = store.add(attrs.evolve(PIN_DEPENDENCY, kind=Kind.TRAJECTORY))
    hits = store.search(SearchQuery(text=PIN_DEPENDENCY.title, language="python", k=5))
    assert [hit.memory.id for hit in hits] == [insight.id, trajectory.id]
    assert hits[0].why.abstraction_weight > hits[1].why.abstraction_weight


def test_rejected_is_never_returned_and_pinned_is_boosted(store: MemoryStore) -> None:
    memory_id = store.add(PIN_DEPENDENCY).id
    query = SearchQuery(text="the build broke after reinstalling packages", language="python")
    before = store.search(query)[0].score
    pinned = store.pin(memory_id)
    assert pinned.status is Status.PINNED
    after = store.search(query)[0]
    assert after.why.pinned
    assert after.score == pytest.approx(before + RankingConfig().pinned_bonus, abs=1e-3)
    rejected = store.reject(memory_id, "not how we do it")
    assert rejected.reject_reason == "not how we do it"
    assert store.search(query) == []
    store.restore(memory_id)
    assert store.search(query)[0].score == pytest.approx(before, abs=1e-3)


def test_helpful_votes_raise_and_unhelpful_votes_lower_the_score(store: MemoryStore) -> None:
    memory_id = store.add(PIN_DEPENDENCY).id
    query = SearchQuery(text="lock the versions of packages", language="python")
    base = store.search(query)[0].score
    store.record_feedback(memory_id, helpful=True)
    raised = store.search(query)[0].score
    memory = store.record_feedback(memory_id, helpful=False)
    memory = store.record_feedback(memory_id, helpful=False)
    lowered = store.search(query)[0].score
    assert (memory.helpful, memory.unhelpful) == (1, 2)
    assert raised > base > lowered


def test_min_score_hides_what_is_not_relevant(store: MemoryStore) -> None:
    import_file(store, EXAMPLES)
    unrelated = SearchQuery(text="the colour of the sky at dusk over the sea", min_score=0.3)
    assert store.search(unrelated) == []


def test_forget_deletes(store: MemoryStore) -> None:
    memory_id = store.add(NONE_CHECK).id
    assert store.forget(memory_id) is True
    assert store.get(memory_id) is None
    assert store.forget(memory_id) is False
    with pytest.raises(MemoryNotFound):
        store.pin(memory_id)


def test_project_scope_stays_in_its_workspace(store: MemoryStore) -> None:
    local = attrs.evolve(
        PIN_DEPENDENCY, scope="project", provenance=Provenance(workspace="/home/me/project-a")
    )
    store.add(local)
    query = PIN_DEPENDENCY.title
    assert store.search(SearchQuery(text=query, workspace="/home/me/project-a"))
    assert store.search(SearchQuery(text=query, workspace="/home/me/project-b")) == []


def test_secrets_are_redacted_on_write(store: MemoryStore) -> None:
    key = "AKIA" + "Z7QW4XKDLS2MPN5R"
    draft = attrs.evolve(
        NONE_CHECK,
        content=f"export AWS_ACCESS_KEY_ID={key} before running the deploy",
        check_command=f"curl -H 'Authorization: Bearer {'sk-' + 'proj-' + 'a' * 40}' https://example.test",
    )
    memory = store.get_required(store.add(draft).id)
    assert key not in memory.content
    assert "[REDACTED:" in memory.content
    assert "aaaaaaaaaa" not in memory.check_command


def test_resolve_id_accepts_a_unique_prefix(store: MemoryStore) -> None:
    memory_id = store.add(NONE_CHECK).id
    assert store.resolve_id(memory_id[:10]) == memory_id
    with pytest.raises(MemoryNotFound):
        store.resolve_id("mem_nothing")


def test_export_then_import_round_trips(store: MemoryStore, tmp_path: Path, minilm: Embedder) -> None:
    import_file(store, EXAMPLES)
    pinned_id = store.list_memories(kind=Kind.WORKFLOW)[0].id
    store.pin(pinned_id)
    exported = tmp_path / "out.jsonl"
    assert write_lines(exported, store.list_memories()) == store.count()
    other = MemoryStore(pool_config(tmp_path / "second"), minilm)
    report = import_file(other, exported)
    assert report.added == store.count()
    assert {m.id for m in other.list_memories()} == {m.id for m in store.list_memories()}
    assert other.get_required(pinned_id).status is Status.PINNED
    again = import_file(other, exported)
    assert (again.added, again.merged) == (0, store.count())


def test_import_reports_bad_lines_and_keeps_the_good_ones(store: MemoryStore, tmp_path: Path) -> None:
    good = {"kind": "insight", "title": "Run the linter before pushing", "languages": ["go"]}
    lines = [
        json.dumps(good).encode(),
        b"{not json",
        json.dumps({"kind": "insight"}).encode(),
        json.dumps({"kind": "lesson", "title": "x"}).encode(),
        json.dumps({**good, "langauges": ["go"]}).encode(),
        b'{"kind": "insight", "title": "caf\xe9 \xff"}',
        json.dumps(
            {"kind": "summary", "title": "Deploy failed on a missing env var", "outcome": "failure"}
        ).encode(),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = import_file(store, path)
    assert (report.added, report.merged, report.rejected) == (2, 0, 5)
    joined = "\n".join(report.errors)
    assert "line 2: not valid JSON" in joined
    assert "line 3: missing field(s) title" in joined
    assert "line 4:" in joined and "lesson" in joined
    assert "line 5: unknown field(s) langauges" in joined
    assert "line 6: not valid UTF-8" in joined


def test_a_pool_from_another_embedder_is_refused_until_reembedded(
    tmp_path: Path, minilm: Embedder, openai_server: object
) -> None:
    from carryover.pool.embedding.openai_compat import OpenAIEmbedder, OpenAIEmbedderConfig

    config = pool_config(tmp_path)
    MemoryStore(config, minilm).add(NONE_CHECK)
    remote = OpenAIEmbedder(
        OpenAIEmbedderConfig(base_url=openai_server.url, model="hash-256", api_key="k")  # type: ignore[attr-defined]
    )
    store = MemoryStore(config, remote)
    with pytest.raises(EmbedderMismatch, match="carryover reembed"):
        store.search(SearchQuery(text="null check"))
    with pytest.raises(EmbedderMismatch):
        store.add(PIN_DEPENDENCY)
    assert store.reembed(remote) == 1
    assert store.meta.embedder == remote.name
    hits = store.search(SearchQuery(text="Guard optional values before indexing", k=1))
    assert titles(hits) == [NONE_CHECK.title]
    with pytest.raises(EmbedderMismatch):
        MemoryStore(config, minilm).search(SearchQuery(text="x"))


def test_a_pool_from_a_newer_schema_is_refused(tmp_path: Path, minilm: Embedder) -> None:
    config = pool_config(tmp_path)
    MemoryStore(config, minilm)
    meta_path = config.pool_dir / "pool.json"
    meta = json.loads(meta_path.read_text())
    meta["schema_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(PoolVersionError, match="newer Carryover"):
        MemoryStore(config, minilm)


def test_a_corrupt_pool_description_is_a_clear_error(tmp_path: Path, minilm: Embedder) -> None:
    config = pool_config(tmp_path)
    MemoryStore(config, minilm).add(NONE_CHECK)
    (config.pool_dir / "pool.json").write_bytes(b"\x00\xffgarbage")
    with pytest.raises(PoolCorrupt, match=r"pool\.json"):
        MemoryStore(config, minilm)
    (config.pool_dir / "pool.json").unlink()
    with pytest.raises(PoolCorrupt, match="missing"):
        MemoryStore(config, minilm)


def test_counts(store: MemoryStore) -> None:
    import_file(store, EXAMPLES)
    memory_id = store.list_memories(kind=Kind.INSIGHT)[0].id
    store.record_feedback(memory_id, helpful=True)
    store.reject(store.list_memories(kind=Kind.TRAJECTORY)[0].id)
    counts = store.counts()
    assert counts.total == 8
    assert counts.by_kind == {"insight": 5, "summary": 1, "trajectory": 1, "workflow": 1}
    assert counts.by_status == {"active": 7, "rejected": 1}
    assert counts.by_outcome == {"failure": 2, "success": 6}
    assert counts.by_language["python"] == 2
    assert counts.helpful == 1


def test_damaged_data_files_are_a_clear_error(tmp_path: Path, minilm: Embedder) -> None:
    from carryover.pool.store import PoolReadError

    config = pool_config(tmp_path)
    MemoryStore(config, minilm).add(NONE_CHECK)
    for data_file in (config.pool_dir / "memories.lance" / "data").iterdir():
        data_file.write_bytes(b"garbage")
    with pytest.raises(PoolReadError, match="could not be read"):
        MemoryStore(config, minilm).search(SearchQuery(text="null check"))


def test_damaged_manifest_is_a_clear_error(tmp_path: Path, minilm: Embedder) -> None:
    config = pool_config(tmp_path)
    MemoryStore(config, minilm).add(NONE_CHECK)
    for manifest in (config.pool_dir / "memories.lance" / "_versions").glob("*.manifest"):
        manifest.write_bytes(b"garbage")
    with pytest.raises(PoolCorrupt, match="cannot be opened"):
        MemoryStore(config, minilm)


def test_search_with_a_plan_ranks_the_blend_of_the_pools_candidate_scores(store: MemoryStore) -> None:
    store.add_many([NONE_CHECK, PIN_DEPENDENCY, TRAJECTORY_JS])
    query = SearchQuery(text="KeyError when the config has no such entry", plan="pin versions", k=3)
    vectors = store.embed_query([query.text, query.plan])
    assert vectors.shape == (2, store.meta.dimension)
    weight = store.config.ranking.plan_weight
    blended = {
        memory.id: weight * float(sims[1]) + (1 - weight) * float(sims[0])
        for memory, sims in store.candidates(vectors, limit=10)
    }
    hits = store.search(query)
    assert hits
    for hit in hits:
        assert hit.why.similarity == pytest.approx(blended[hit.memory.id], abs=1e-4)


def test_a_limited_list_is_the_head_of_the_whole_list(store: MemoryStore) -> None:
    import_file(store, EXAMPLES)
    drafts = [MemoryDraft(kind=Kind.INSIGHT, title=f"Same moment, memory {index}") for index in range(4)]
    store.add_many(drafts)  # one write: the same update time, ordered by id
    memories = store.list_memories()
    store.pin(memories[-1].id)
    store.add(MemoryDraft(kind=Kind.INSIGHT, title="An agent's proposal", status=Status.PROPOSED))
    for kind in (None, Kind.INSIGHT, Kind.WORKFLOW):
        for status in (None, Status.PINNED, Status.PROPOSED):
            whole = store.list_memories(kind=kind, status=status)
            for limit in (0, 1, 3, len(whole) + 5):
                assert store.list_memories(kind=kind, status=status, limit=limit) == whole[:limit]
    assert [memory.title for memory in store.list_memories(limit=1)] == [memories[-1].title]
