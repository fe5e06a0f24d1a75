from django.urls import path

from triggers import views

urlpatterns = [
    path("api/v1/triggers", views.TriggerCreateView.as_view(), name="trigger-create"),
    path("api/v1/triggers/<str:pk>", views.TriggerDetailView.as_view(), name="trigger-detail"),
]
