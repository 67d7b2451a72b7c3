"""Admin for pipelines, stages and deals (moving deals between stages, with confirmation)."""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.translation import ngettext

from core.admin_confirm import action_confirmation, action_confirmed
from pipelines.models import Deal, DealStageChange, Pipeline, Stage
from pipelines.probabilities import stages_set_default_probabilities
from pipelines.services import deals_move_stage


class StageInline(admin.TabularInline):
    model = Stage
    extra = 1


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "contacted_in_first_stage", "deal_count"]
    search_fields = ["name"]
    inlines = [StageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_deals=Count("deals"))

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if not change:  # a new pipeline: probabilities by stage order, unless typed in
            stages_set_default_probabilities(pipeline=form.instance)

    @admin.display(description="Deals", ordering="_deals")
    def deal_count(self, obj) -> int:
        return obj._deals


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["name", "pipeline", "position", "kind"]
    list_filter = ["pipeline", "kind"]
    search_fields = ["name", "pipeline__name"]


class DealStageChangeInline(admin.TabularInline):
    model = DealStageChange
    fk_name = "deal"
    extra = 0
    can_delete = False
    fields = ("at", "from_stage", "to_stage", "changed_by", "reason")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["contact", "pipeline", "stage", "value", "owner", "updated_at"]
    list_filter = ["pipeline", "stage", "owner"]
    search_fields = ["contact__first_name", "contact__last_name", "contact__company"]
    list_select_related = ["contact", "pipeline", "stage", "owner"]
    autocomplete_fields = ["contact", "stage", "campaign", "owner"]
    inlines = [DealStageChangeInline]
    actions = ["move_stage"]

    @admin.action(description="Move selected deals to a stage…", permissions=["change"])
    def move_stage(self, request, queryset):
        form = MoveStageForm(request.POST if "confirm" in request.POST else None)
        if not action_confirmed(request, form):
            stage = form.cleaned_data.get("stage") if form.is_bound and form.is_valid() else None
            will = (
                queryset.filter(pipeline_id=stage.pipeline_id).exclude(stage=stage).count()
                if stage
                else queryset.count()
            )
            return action_confirmation(
                self,
                request,
                queryset,
                action="move_stage",
                title="Move deals",
                will_change=will,
                form=form,
                note="Deals in another pipeline, or already in the stage, are left as they are.",
            )
        stage = form.cleaned_data["stage"]
        moved = deals_move_stage(
            deals=queryset, stage=stage, actor=request.user, reason=form.cleaned_data["reason"]
        )
        self.message_user(request, f"{moved} {ngettext('deal', 'deals', moved)} moved to {stage}.")
        return None


class MoveStageForm(forms.Form):
    stage = forms.ModelChoiceField(queryset=Stage.objects.select_related("pipeline"))
    reason = forms.CharField(max_length=200, required=False)
