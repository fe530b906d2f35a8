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
