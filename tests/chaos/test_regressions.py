"""Regression tests for product bugs the chaos suite found (one test per bug)."""

from __future__ import annotations

from bench.chaos import Lab, Scale, _options, compare


def test_field_removed_in_sfmc_is_refilled_on_next_incremental_run():
    # Bug: after a mapped field was deleted in SFMC, the next run added it back (empty) but the
    # ledger still said every row was unchanged, so no row was re-sent and the field stayed empty.
    scale = Scale(rows=120, fast=True)
    with Lab(rows=scale.rows) as lab:
        pid = lab.make_pathway()
        first = lab.run(pid, options=_options(scale))
        assert first.state == "succeeded", first.error
        lab.delete(f"/_sim/dataextensions/{lab.customer_key}/fields/City")
        second = lab.run(pid, options=_options(scale))
        assert second.state == "succeeded", second.error
        assert second.rows_sent == len(lab.expected.valid)
        rows = lab.de_rows()
        assert all(r["City"] for r in rows)
        assert compare(rows, lab.expected, lab.rejected_keys([second.id])) == (0, 0, 0)


def test_deleted_folder_gives_a_message_that_says_what_to_fix():
    # Bug: creating the DE in a folder deleted in SFMC failed with SFMC's raw "CategoryID 1001
    # is not a Data Extension folder (error 310007)", which does not tell the user what to do.
    with Lab(rows=30) as lab:
        folder = lab.sim.state.add_folder("Gone", lab.root_folder())
        pid = lab.make_pathway(category_id=folder.id)
        lab.delete(f"/_sim/folders/{folder.id}")
        run = lab.run(pid)
        assert run.state == "failed"
        assert "no longer exists in Marketing Cloud" in run.error
        assert "Pick a valid folder" in run.error
        assert run.error_kind == "folder_missing"
        assert run.error_detail["category_id"] == folder.id
        assert lab.de_rows() == []  # nothing was written anywhere
