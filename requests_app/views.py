"""Portal views: thin — parse, call a service, render."""

from django.shortcuts import render


def home(request):
    return render(request, "requests_app/home.html")
