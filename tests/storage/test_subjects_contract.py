"""Data-subject rights as every backend keeps them (``storage.subjects``): marks, the
writes they refuse or restrict, and the ``restricted`` flag."""

from __future__ import annotations

from datetime import UTC, datetime

from storage import ERASED, ItemFailed, Mark, Marks, Record, SubjectStorage

AT = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
LATER = datetime(2026, 6, 1, tzinfo=UTC)


async def read(storage: SubjectStorage, key: str) -> Record | ItemFailed | None:
    [got] = await storage.get_many([key])
    return got


async def test_a_pseudonym_marked_erased_is_not_stored_again(storage: SubjectStorage) -> None:
    await storage.mark("erased", ["gone"], [], reference="receipt-1", at=AT)

    outcomes = await storage.put_many([Record("gone", "john@acme.com")])

    assert outcomes == [ERASED]
    assert outcomes[0] is not None
    assert outcomes[0].erased
    assert outcomes[0].reason.startswith("erased")
    assert "john@acme.com" not in outcomes[0].reason
    assert await read(storage, "gone") is None


async def test_a_value_marked_erased_is_refused_under_any_pseudonym(
    encrypted: SubjectStorage,
) -> None:
    digest = await encrypted.value_digest("john@acme.com")
    assert digest is not None
    await encrypted.mark("erased", [], [digest], reference="receipt-1", at=AT)

    # Another pseudonym (a new salt), the value as another field spells it.
    outcomes = await encrypted.put_many(
        [Record("new-salt-pseudonym", " John@ACME.com"), Record("other", "jane@acme.com")]
    )

    assert outcomes == [ERASED, None]
    assert await read(encrypted, "new-salt-pseudonym") is None
    assert isinstance(await read(encrypted, "other"), Record)


async def test_the_value_digest_is_keyed_full_length_and_of_the_normal_form(
    encrypted: SubjectStorage,
) -> None:
    digest = await encrypted.value_digest("John@Acme.com ")

    assert digest == await encrypted.value_digest("john@acme.com")
    assert digest is not None
    assert len(digest) == 64
    assert digest != await encrypted.value_digest("jane@acme.com")


async def test_plain_and_encrypted_backends_say_whether_they_can_find_by_value(
    storage: SubjectStorage,
) -> None:
    await storage.put_many([Record("k", "john@acme.com")])

    digest = await storage.value_digest("john@acme.com")
    lookup = await storage.find("john@acme.com")

    if digest is None:  # no keyring: no digest, no index, an empty answer that says so
        assert lookup == ([], [], False)
    else:
        assert lookup == (["k"], [], True)


async def test_a_write_after_a_restriction_of_its_pseudonym_is_stored_restricted(
    storage: SubjectStorage,
) -> None:
    await storage.mark("restricted", ["held"], [], reference="request-7", at=AT)

    assert await storage.put_many([Record("held", "v1"), Record("free", "v2")]) == [None, None]

    held, free = await storage.get_many(["held", "free"])
    assert isinstance(held, Record)
    assert held.restricted
    assert held.original_value == "v1"
    assert isinstance(free, Record)
    assert not free.restricted


async def test_a_restriction_of_a_value_covers_pseudonyms_written_after_it(
    encrypted: SubjectStorage,
) -> None:
    digest = await encrypted.value_digest("192.168.0.1")
    assert digest is not None
    await encrypted.mark("restricted", [], [digest], reference="request-7", at=AT)

    await encrypted.put_many([Record("epoch-2", "::ffff:192.168.0.1"), Record("x", "10.0.0.1")])

    held, free = await encrypted.get_many(["epoch-2", "x"])
    assert isinstance(held, Record)
    assert held.restricted
    assert isinstance(free, Record)
    assert not free.restricted


async def test_the_restricted_flag_passed_in_is_ignored(storage: SubjectStorage) -> None:
    await storage.put_many([Record("k", "v", restricted=True)])

    got = await read(storage, "k")

    assert isinstance(got, Record)
    assert not got.restricted


async def test_set_restricted_flips_stored_records_and_creates_nothing(
    storage: SubjectStorage,
) -> None:
    await storage.put_many([Record("k", "v", app_id="a")])
    [before] = await storage.get_many(["k"])

    assert await storage.set_restricted(["k", "absent"], True) == [None, None]
    on = await read(storage, "k")
    assert await storage.set_restricted(["k", "absent"], False) == [None, None]
    off = await read(storage, "k")

    assert isinstance(before, Record)
    assert isinstance(on, Record)
    assert isinstance(off, Record)
    assert (before.restricted, on.restricted, off.restricted) == (False, True, False)
    assert on._replace(restricted=False) == before  # nothing else changed
    assert await read(storage, "absent") is None


async def test_marks_reports_each_marked_key_as_asked(storage: SubjectStorage) -> None:
    await storage.mark("restricted", ["p1"], ["d1"], reference="r-1", at=AT)
    await storage.mark("erased", ["p2"], [], reference="r-2", at=AT)

    marks = await storage.marks(["p1", "p2", "p3"], ["d1", "d2"])

    assert marks == Marks(
        {"p1": Mark("restricted", AT, "r-1"), "p2": Mark("erased", AT, "r-2")},
        {"d1": Mark("restricted", AT, "r-1")},
    )


async def test_marking_again_replaces_the_mark_of_that_kind(storage: SubjectStorage) -> None:
    await storage.mark("restricted", ["p"], [], reference="r-1", at=AT)
    await storage.mark("restricted", ["p"], [], reference="r-2", at=LATER)

    marks = await storage.marks(["p"], [])

    assert marks.pseudonyms == {"p": Mark("restricted", LATER, "r-2")}


async def test_erased_beats_restricted_whichever_came_first(storage: SubjectStorage) -> None:
    await storage.mark("restricted", ["a"], ["da"], reference="r", at=AT)
    await storage.mark("erased", ["a", "b"], ["da", "db"], reference="e", at=LATER)
    await storage.mark("restricted", ["b"], ["db"], reference="r", at=LATER)

    marks = await storage.marks(["a", "b"], ["da", "db"])

    assert {m.kind for m in [*marks.pseudonyms.values(), *marks.digests.values()]} == {"erased"}
    assert await storage.put_many([Record("a", "v"), Record("b", "v")]) == [ERASED, ERASED]


async def test_unmark_lifts_that_kind_only(storage: SubjectStorage) -> None:
    await storage.mark("restricted", ["r", "both"], ["d"], reference="r", at=AT)
    await storage.mark("erased", ["e", "both"], [], reference="e", at=AT)

    await storage.unmark("restricted", ["r", "both", "never-marked"], ["d"])
    await storage.unmark("erased", ["e"], [])

    marks = await storage.marks(["r", "e", "both"], ["d"])
    assert marks == Marks({"both": Mark("erased", AT, "e")}, {})
    outcomes = await storage.put_many([Record("r", "1"), Record("e", "2"), Record("both", "3")])
    assert outcomes == [None, None, ERASED]
    r, e = await storage.get_many(["r", "e"])
    assert isinstance(r, Record)
    assert not r.restricted
    assert isinstance(e, Record)
    assert not e.restricted


async def test_a_mixed_batch_keeps_order_and_each_item_s_outcome(storage: SubjectStorage) -> None:
    await storage.mark("erased", ["e1", "e2"], [], reference="e", at=AT)
    await storage.mark("restricted", ["r1"], [], reference="r", at=AT)
    batch = [
        Record("a", "1"),
        Record("e1", "2"),
        Record("r1", "3"),
        Record("e2", "4"),
        Record("a", "5"),
        Record("e1", "6"),
        Record("b", "7"),
    ]

    outcomes = await storage.put_many(batch)

    assert outcomes == [None, ERASED, None, ERASED, None, ERASED, None]
    got = await storage.get_many(["a", "e1", "r1", "e2", "b"])
    assert [(r.original_value, r.restricted) if isinstance(r, Record) else r for r in got] == [
        ("5", False),
        None,
        ("3", True),
        None,
        ("7", False),
    ]


async def test_a_restricted_record_deletes_like_any_other(storage: SubjectStorage) -> None:
    await storage.mark("restricted", ["k"], [], reference="r", at=AT)
    await storage.put_many([Record("k", "v")])

    assert await storage.delete_many(["k"]) == [None]

    assert await read(storage, "k") is None
    assert (await storage.marks(["k"], [])).pseudonyms == {"k": Mark("restricted", AT, "r")}
