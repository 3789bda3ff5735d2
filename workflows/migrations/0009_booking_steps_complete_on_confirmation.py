"""The shipped demo templates' booking steps are completed by the carrier's confirmation (BOOKING_CONFIRMED).

Recording a carrier's confirmation on the planning screen records the BOOKING_CONFIRMED milestone for the orders
on the master, and the workflow completes the tasks it completes before the confirmation plans the orders
(docs/decisions/0004, "The carrier's confirmation completes the booking task"). The templates `seed_demo` made
before this had no completion on their booking step, which blocks `plan`: every confirmation left its orders
"not planned yet: Finish first: Book transport with a carrier".

Changed here, in place, only what is exactly the shipped step: a task definition of a template with the demo's
name, with the demo step's key and name, made on entering `confirmed`, blocking `plan` and nothing else, and with
no completion of its own. Any other definition is the admin's, left as it is (the console sets "Completed by:
milestone BOOKING_CONFIRMED" on a new version). The tasks made from those definitions (open, scheduled or done;
not cancelled ones) get the same completion, so an open one completes on the next confirmation and a done one is
reopened when its booking is cancelled. A booking confirmed before this recorded no milestone: the tasks of those
orders stay open until a person completes them (as before).

Changing a published version is otherwise never done; it is done here because the step is ours and what it lacked
is a defect, not a choice, and the version's other steps, dependencies and blocks stay exactly as published.
"""

from django.db import migrations

BOOKED_KIND, BOOKED_VALUE = "milestone", "BOOKING_CONFIRMED"
# (template name, step key, step name): the booking steps of workflows/demo.py as shipped
SHIPPED = (
    ("General order handling", "book", "Book transport with a carrier"),
    ("Ocean FCL export", "book-space", "Book container space with the shipping line"),
    ("Ocean LCL import", "agent-booking", "Confirm the origin agent booked the consolidation"),
    ("Air export", "book-flight", "Book the flight with the airline"),
    ("Road FTL domestic", "book-truck", "Assign a truck and driver"),
    ("Parcel eCommerce", "label", "Create the courier label"),
)


def complete_on_confirmation(apps, schema_editor):
    TaskDefinition = apps.get_model("workflows", "TaskDefinition")
    Task = apps.get_model("workflows", "Task")
    changed = []
    for template, key, name in SHIPPED:
        definitions = TaskDefinition.objects.filter(
            version__template__name=template,
            key=key,
            name=name,
            trigger_kind="state",
            trigger_state="confirmed",
            blocks=["plan"],
            auto_complete_kind="",
        )
        changed += list(definitions.values_list("pk", flat=True))
    if not changed:
        return
    TaskDefinition.objects.filter(pk__in=changed).update(
        auto_complete_kind=BOOKED_KIND, auto_complete_value=BOOKED_VALUE
    )
    Task.objects.filter(definition_id__in=changed, auto_complete_on="").exclude(state="cancelled").update(
        auto_complete_on=f"{BOOKED_KIND}:{BOOKED_VALUE}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0008_transition_unplan"),
    ]

    operations = [
        migrations.RunPython(complete_on_confirmation, migrations.RunPython.noop),
    ]
