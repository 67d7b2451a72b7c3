from celery import shared_task

# Each run works for at most this long, then queues its own continuation: under the global
# task time limit, and a killed worker loses at most one batch (redelivered via acks_late).
TIME_BUDGET = 45.0


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def contact_import_run_task(contact_import_id: int) -> None:
    # Safe to deliver twice: the run resumes from the checkpoint committed with each batch.
    from contacts.imports import contact_import_run

    if contact_import_run(contact_import_id=contact_import_id, time_budget=TIME_BUDGET):
        contact_import_run_task.delay(contact_import_id)
