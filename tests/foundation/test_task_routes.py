"""Every task of the project goes to a queue by urgency (config/queues.py), and the
processes that run the engine consume every one of those queues."""

import re
from pathlib import Path

from config.celery import app
from config.queues import QUEUES, ROUTES

ROOT = Path(__file__).resolve().parent.parent.parent


def project_tasks() -> set[str]:
    app.loader.import_default_modules()
    import bench.noop  # noqa: F401  (loaded into bench_send's workers with --include)

    return {name for name in app.tasks if not name.startswith("celery.")}


def test_every_task_of_the_project_is_routed_to_a_queue_by_urgency():
    tasks = project_tasks()
    unrouted = sorted(tasks - ROUTES.keys())
    assert not unrouted, f"add these tasks to config/queues.py: {unrouted}"
    for name in tasks:
        queue = app.amqp.router.route({}, name)["queue"].name
        assert queue in QUEUES, (name, queue)
        assert queue == ROUTES[name]["queue"]


def test_no_route_names_a_task_that_does_not_exist():
    assert sorted(ROUTES.keys() - project_tasks()) == []


def test_a_reps_reply_and_a_campaign_batch_go_to_different_queues():
    route = app.amqp.router.route
    assert route({}, "outreach.tasks.send_replies")["queue"].name == "human"
    assert route({}, "outreach.tasks.send_messages")["queue"].name == "send"
    assert route({}, "outreach.tasks.process_inbound_event")["queue"].name == "inbound"
    assert route({}, "contacts.tasks.contact_import_run_task")["queue"].name == "bulk"


def test_make_runs_one_worker_consuming_every_queue():
    procfile = (ROOT / "Procfile").read_text()
    workers = [line for line in procfile.splitlines() if line.startswith("worker:")]
    assert len(workers) == 1
    consumed = re.search(r"-Q (\S+)", workers[0])
    assert consumed and sorted(consumed.group(1).split(",")) == sorted(QUEUES)
