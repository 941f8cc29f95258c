"""The phases of a run, each in its own module, composed by ``pipeline.run``::

    plan      list the source, cut it into shards                          -> Plan (plan.json)
    shard     fetch .. row-validate one shard with a pool of ``tasks``     -> ShardSummary (summary.json)
    finalize  merge the shards:
                duplicates  de-duplicate across shards, filter the staged files
                batches     validate each landing date as a batch, Data Docs
                publish     manifests, then the output's atomic publish
                report      the run report and ledger                    -> RunReport (_runs/<run_id>.json)

The contracts between phases (``Plan``, ``ShardSummary``, ``RunReport``) are dataclasses with
``to_json`` / ``from_json``: they travel as files between the machines of a run.
"""
