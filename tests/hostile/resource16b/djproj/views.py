from django.http import JsonResponse
from rest_framework.response import Response
from rest_framework.views import APIView


class McpView(APIView):
    def get(self, request):
        return Response({"ok": True, "uri": request.build_absolute_uri()})

    def post(self, request):
        return Response({"ok": True})


def plain(request):
    return JsonResponse({"uri": request.build_absolute_uri()})
