"""What the accounts' services announce to the apps above them, which accounts may not import
(the layers run one way). Each is sent inside the change's transaction, so what a receiver
writes commits or rolls back with the change."""

from django.dispatch import Signal

# A parent is no longer linked to a student: `parent`, `student`, `actor` (who unlinked).
# families ends what the link carried (the parent's consent in force, their family choice).
guardianship_ended = Signal()
