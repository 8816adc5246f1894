"""Jobs API (/api/v1/jobs/): the list with progress and ETA, one job's detail with its metric history,
and, for ML operators, "batch now" and cancel."""

from django.core.paginator import Paginator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from palimpsest.api import PAGE_PARAMETER, error_responses, query_choice, query_page
from palimpsest.errors import ApplicationError
from requests_app.audit import Actor
from requests_app.staff.api import StaffAPIView
from unlearn_jobs.jobs import selectors, services
from unlearn_jobs.jobs.models import JobStatus

PAGE_SIZE = 50
VIEW_PERMISSION = "unlearn_jobs.view_unlearnjob"
OPERATE_PERMISSION = "unlearn_jobs.operate_unlearnjob"


class CanView(BasePermission):
    message = "You do not have the right to see unlearning jobs."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm(VIEW_PERMISSION)


class CanOperate(BasePermission):
    message = "Only ML operators may batch or cancel unlearning jobs."

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return request.user.has_perm(VIEW_PERMISSION)
        return request.user.has_perm(OPERATE_PERMISSION)


class JobsAPIView(StaffAPIView):
    permission_classes = [IsAuthenticated, CanView, CanOperate]


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField(help_text="Why the batch was made: deadline, age, size or manual.")
    strategy = serializers.CharField()
    strategy_reason = serializers.CharField()
    method = serializers.CharField()
    mode = serializers.CharField()
    attempt = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    parent_version = serializers.IntegerField(source="parent_version.number")
    candidate_version = serializers.SerializerMethodField()
    requests = serializers.IntegerField(source="request_count")
    forget_items = serializers.IntegerField()
    trained_items = serializers.IntegerField()
    retain_items = serializers.IntegerField()
    step = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    progress = serializers.SerializerMethodField()
    metrics = serializers.DictField(help_text="The figures of the last logged step.")
    eta_at = serializers.DateTimeField(allow_null=True)
    worker_id = serializers.CharField()
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    cancel_requested = serializers.SerializerMethodField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_candidate_version(self, job) -> int | None:
        version = getattr(job, "produced_version", None)
        return version.number if version is not None else None

    def get_progress(self, job) -> float:
        return selectors.progress_fraction(job)

    def get_cancel_requested(self, job) -> bool:
        return job.cancel_requested_at is not None


class JobPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = JobSerializer(many=True)


class JobRequestSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="request.public_id")
    status = serializers.CharField(source="request.status")
    due_at = serializers.DateTimeField(source="request.due_at", allow_null=True)
    carried = serializers.BooleanField(help_text="Erased by an earlier version, trained again by a rebase.")


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    worker_id = serializers.CharField()
    outcome = serializers.CharField()
    resumed_from_step = serializers.IntegerField()
    error = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class LogLineSerializer(serializers.Serializer):
    at = serializers.DateTimeField(source="created_at")
    attempt = serializers.IntegerField()
    level = serializers.CharField()
    message = serializers.CharField()


class MetricSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    attempt = serializers.IntegerField()
    figures = serializers.DictField()


class JobDetailSerializer(JobSerializer):
    included_requests = JobRequestSerializer(many=True)
    attempts = AttemptSerializer(many=True)
    log = LogLineSerializer(many=True)
    metric_history = MetricSerializer(many=True)


class BatchResultSerializer(serializers.Serializer):
    jobs = JobSerializer(many=True)


MAX_ID = 2**63 - 1  # a larger number in the URL is no job, not a database error


def _detail_body(job_id: int) -> dict:
    detail = selectors.job_detail(job_id=job_id) if job_id <= MAX_ID else None
    if detail is None:
        raise NotFound("No such job.")
    return {
        **JobSerializer(detail.job).data,
        "included_requests": JobRequestSerializer(detail.requests, many=True).data,
        "attempts": AttemptSerializer(detail.attempts, many=True).data,
        "log": LogLineSerializer(detail.log_lines, many=True).data,
        "metric_history": MetricSerializer(detail.metrics, many=True).data,
    }


class JobListApi(JobsAPIView):
    @extend_schema(
        operation_id="jobs_list",
        summary="Unlearning jobs, newest first, with progress and ETA",
        parameters=[
            OpenApiParameter("status", str, enum=list(JobStatus.values)),
            PAGE_PARAMETER,
        ],
        responses={200: JobPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        wanted = query_choice(request.query_params, "status", JobStatus.values)
        page = Paginator(selectors.job_list(status=wanted), PAGE_SIZE).get_page(
            query_page(request.query_params)
        )
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "pages": page.paginator.num_pages,
                "results": JobSerializer(page.object_list, many=True).data,
            }
        )

    @extend_schema(
        operation_id="jobs_batch_now",
        summary="Batch now: make jobs of every approved request waiting (ML operators)",
        request=None,
        responses={201: BatchResultSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request):
        jobs = services.unlearn_jobs_batch(actor=Actor.user(request.user), manual=True, user=request.user)
        if not jobs:
            raise ApplicationError("No approved request could be batched (they were taken meanwhile).")
        rows = selectors.job_list().filter(pk__in=[job.pk for job in jobs])
        return Response({"jobs": JobSerializer(rows, many=True).data}, status=status.HTTP_201_CREATED)


class JobDetailApi(JobsAPIView):
    @extend_schema(
        operation_id="jobs_retrieve",
        summary="One job: progress, included requests, attempts, log lines and the metric history",
        responses={200: JobDetailSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, id):
        return Response(_detail_body(id))


class JobCancelApi(JobsAPIView):
    @extend_schema(
        operation_id="jobs_cancel",
        summary="Cancel a job (ML operators): a queued job at once, a running one at its next logged step",
        request=None,
        responses={200: JobDetailSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, id):
        if id > MAX_ID or not selectors.job_list().filter(pk=id).exists():
            raise NotFound("No such job.")
        services.unlearn_job_cancel(job_id=id, actor=Actor.user(request.user))
        return Response(_detail_body(id))
