from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from contacts import imports, validators
from contacts.access import imports_visible_to
from contacts.csv_download import csv_download
from contacts.csv_import import FileProblem, delimiter_name
from contacts.custom_keys import custom_field_key, custom_targets
from contacts.forms import ImportUploadForm, SavedMappingChoiceForm
from contacts.headers import TARGETS
from contacts.models import Contact, ContactImport


@login_required
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        imp = imports.contact_import_create(
            name=upload.name,
            chunks=upload.chunks(),  # Django has spooled big uploads to a temp file already
            user=request.user,
            mode=data["mode"],
            default_country=data["default_country"],
            tags=data["tags"],
            owner=data["owner"],
            hook_options={"then": data["then"]} if data.get("then") else {},
        )
        if imp.status == ContactImport.Status.FAILED:
            messages.error(request, f"{upload.name}: {imp.message}")
        return redirect("contacts:import_detail", imp.pk)
    recent = imports_visible_to(request.user)[:20]
    return render(request, "contacts/import_upload.html", {"form": form, "recent": recent})


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    imp = get_object_or_404(imports_visible_to(request.user), pk=pk)
    if imp.status != ContactImport.Status.UPLOADED:
        warnings = imports.import_warnings(contact_import=imp)
        return render(request, "contacts/import_detail.html", {"imp": imp, "warnings": warnings})
    header = imp.sniffed.get("header")
    if not header:  # nothing to map: say so rather than offer an empty mapping
        return render(
            request, "contacts/import_detail.html", {"imp": imp, "problem": imports.UNREAD_FILE}
        )
    mapping = imp.mapping
    saved_form = SavedMappingChoiceForm(request.GET or None)
    if saved_form.is_valid() and saved_form.cleaned_data["saved"]:
        mapping = imports.mapping_from_saved(saved=saved_form.cleaned_data["saved"], header=header)
    error = ""
    if request.method == "POST":
        mapping = [request.POST.get(f"col_{i}", "") for i in range(len(header))]
        names = [request.POST.get(f"custom_{i}", "") for i in range(len(header))]
        mapping = custom_targets(mapping, header, names)
        try:
            country = request.POST.get("default_country")
            imports.contact_import_start(
                contact_import=imp,
                mapping=mapping,
                save_as=request.POST.get("save_as", ""),
                default_country=None if country is None else validators.default_country(country),
            )
            return redirect("contacts:import_detail", imp.pk)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        except ValueError as exc:
            error = str(exc)
    try:
        preview = imports.contact_import_preview(contact_import=imp).preview
    except (FileProblem, OSError) as exc:
        preview, error = [], str(exc)
    columns = [
        {
            "index": i,
            "name": name,
            "target": mapping[i],
            "samples": [r[i] for r in preview if i < len(r)],
            "variable": _custom_key(
                mapping[i].removeprefix("custom:") if mapping[i].startswith("custom:") else "",
                name,
                i,
            ),
        }
        for i, name in enumerate(header)
    ]
    return render(
        request,
        "contacts/import_mapping.html",
        {
            "imp": imp,
            "columns": columns,
            "preview": preview,
            "targets": TARGETS,
            "saved_form": saved_form,
            "error": error,
            "delimiter": delimiter_name(imp.sniffed.get("delimiter", ",")),
            # Imports sniffed before the line was kept count records, as they did then.
            "lines_skipped": imp.sniffed.get("header_line", imp.sniffed["header_index"] + 1) - 1,
        },
    )


def _custom_key(name: str, header: str, index: int) -> str:
    return custom_field_key(name.strip() or header, fallback=f"column_{index + 1}")


@login_required
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    imp = get_object_or_404(imports_visible_to(request.user), pk=pk)
    warnings = imports.import_warnings(contact_import=imp)
    return render(request, "contacts/_import_progress.html", {"imp": imp, "warnings": warnings})


@login_required
@require_POST
def import_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    imp = get_object_or_404(imports_visible_to(request.user), pk=pk)
    try:
        if action == "cancel":
            imports.contact_import_cancel(contact_import=imp)
        elif action == "resume":
            imports.contact_import_resume(contact_import=imp)
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("contacts:import_detail", imp.pk)


@login_required
def import_rollback(request: HttpRequest, pk: int) -> HttpResponse:
    """Step one shows what a rollback deletes and offers to keep the contacts with activity;
    only the confirm button of that page (step two) deletes."""
    imp = get_object_or_404(imports_visible_to(request.user), pk=pk)
    if request.method == "POST" and "confirm" in request.POST:
        keep_active = "delete_active" not in request.POST  # keeping is the default
        try:
            n = imports.contact_import_rollback(contact_import=imp, keep_active=keep_active)
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            kept = Contact.objects.filter(created_by_import=imp.pk).count()
            messages.success(
                request,
                f"Rolled back: {n} {ngettext('contact', 'contacts', n)} deleted"
                + (f", {kept} with activity kept." if kept else "."),
            )
        return redirect("contacts:import_detail", imp.pk)
    preview = imports.contact_import_rollback_preview(contact_import=imp)
    return render(request, "contacts/import_rollback.html", {"imp": imp, "preview": preview})


@login_required
def import_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    imp = get_object_or_404(imports_visible_to(request.user), pk=pk)
    rows = imports.import_error_rows(contact_import=imp)
    return csv_download(rows, f"import-{imp.pk}-errors.csv")
