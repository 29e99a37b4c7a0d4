"""Store every account's email address in its normal form (plaza.core.emails): the domain in
its IDNA ASCII form, lower-cased, so that the unique index on lower(email) holds one account
per mailbox ("x@éxample.com" and "x@xn--xample-9ua.com" were two).

No account is lost or merged. An address is left as it is, and named in the migration's
output, when
  * its normal form is already another account's: the account that holds it (already in
    normal form, or the older of two accounts whose addresses both change) keeps it; or
  * its domain is not valid IDNA, so it has no normal form.
Such an account still signs in with its username; its owner (or an administrator) gives it
an address of its own. Addresses that were normal already are not touched, and a database
without such rows prints nothing. The reverse operation keeps the normal forms (they are
the same addresses).
"""

from django.db import IntegrityError, migrations, transaction
from django.db.models import Value
from django.db.models.functions import Lower

from plaza.core.emails import InvalidEmailAddress, email_normal_form


def normalize_emails(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    left: list[str] = []
    # First read, then write: SQLite does not isolate a cursor from writes to its table.
    changes: list[tuple[int, str, str, str]] = []
    rows = User.objects.order_by("pk").values_list("pk", "username", "email")
    for pk, username, email in rows.iterator(chunk_size=2000):
        try:
            normal = email_normal_form(email)
        except InvalidEmailAddress:
            left.append(f"  {username} (id {pk}): {email!r} has a domain that is not valid IDNA")
            continue
        if normal != email:
            changes.append((pk, username, email, normal))
    # Oldest first: of two accounts whose addresses both change into one, the older keeps it.
    for pk, username, email, normal in changes:
        holder = (
            User.objects.alias(email_lower=Lower("email"))
            .filter(email_lower=Lower(Value(normal)))
            .exclude(pk=pk)
            .values_list("username", flat=True)
            .first()
        )
        if holder is None:
            try:
                with transaction.atomic():
                    User.objects.filter(pk=pk).update(email=normal)
                continue
            except IntegrityError:  # the unique index found a holder the query did not
                holder = "another account"
        left.append(f"  {username} (id {pk}): {email!r} is {normal!r}, which {holder} has")
    if left:
        print(
            "\naccounts.0005_email_normal_form left these addresses as they were:\n"
            + "\n".join(left)
            + "\nGive each of these accounts an address of its own (PATCH /api/me/ or the admin)."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_user_is_private"),
    ]

    operations = [
        migrations.RunPython(normalize_emails, migrations.RunPython.noop, elidable=False),
    ]
