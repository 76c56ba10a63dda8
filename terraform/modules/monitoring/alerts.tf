# Alert policies: one PromQL condition each, the same expression the local Prometheus evaluates
# (terraform/monitoring.ts renders them as a Prometheus rules file). Each links to its section of
# docs/runbook.md, which names the dashboard to open and the commands to run.

locals {
  # Incidents close themselves this long after the condition stops being true.
  auto_close = "1800s"
  # The error budget of the availability SLO, and the burn rates of the multiwindow alerts (the
  # SRE workbook's pair for a 30-day budget): 14.4x over 1 h (confirmed over 5 min) spends 2 % of
  # the budget in an hour; 6x over 6 h (confirmed over 30 min) spends 5 % in six hours. At
  # 99.5 % that is an error ratio above 7.2 % and above 3 %.
  fast_burn = 14.4
  slow_burn = 6
  # The gateway's requests the availability SLO counts: all but Cloud Run's probes (see
  # local.gateway_requests_filter in slos.tf, the same selection as a Monitoring filter).
  gateway_requests = "route!~\"/healthz|/readyz\""
}

resource "google_monitoring_alert_policy" "dead_letter" {
  project               = var.project_id
  display_name          = "AIPROD: dead letter"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = { app = "aiprod" }

  conditions {
    display_name = "A message reached a dead-letter topic"
    condition_prometheus_query_language {
      query      = "sum by (subscription) (increase(aiprod_dead_letters_total[10m])) > 0"
      duration   = "0s"
      alert_rule = "AiprodDeadLetter"
      rule_group = "aiprod"
      # The series appear only once the services have exported them: the first apply precedes
      # the first deploy.
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "A message was dead-lettered after its subscription's maximum delivery attempts; its job is FAILED(dead_lettered) until an operator redrives it. Runbook: ${var.runbook_url}#dead-letter"
    mime_type = "text/markdown"
  }

  alert_strategy {
    auto_close = local.auto_close
  }
}

resource "google_monitoring_alert_policy" "oldest_unacked" {
  project               = var.project_id
  display_name          = "AIPROD: message unacked too long"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = { app = "aiprod" }

  conditions {
    display_name = "A subscription has a message unacked beyond its bound"
    condition_prometheus_query_language {
      # Our consumers' gauge, or Pub/Sub's own metric where no consumer reports one: a pool that
      # is crash-looping or has no instance exports no series, and its backlog must page all the
      # same. The Google metric is a Cloud Monitoring system metric (PromQL name per Google's
      # mapping: first "/" to ":", other "/" and "." to "_") with the subscription in its resource
      # label subscription_id; copied to `subscription` and aggregated by it, so that `or` keeps
      # one series per subscription (ours where both exist). Locally the Google metric has no
      # series and the expression is our gauge's alone.
      query      = <<-EOT
        max by (subscription) (aiprod_pubsub_oldest_unacked_age_seconds) > ${var.oldest_unacked_bound_seconds}
        or
        max by (subscription) (
          label_replace(pubsub_googleapis_com:subscription_oldest_unacked_message_age, "subscription", "$1", "subscription_id", "(.*)")
        ) > ${var.oldest_unacked_bound_seconds}
      EOT
      duration   = "60s"
      alert_rule = "AiprodOldestUnacked"
      rule_group = "aiprod"
      # The series appear only once the services have exported them: the first apply precedes
      # the first deploy.
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "A subscription has had a message unacked for longer than ${var.oldest_unacked_bound_seconds} s: a handler is stuck or far slower than planned, or no consumer is running (a crash-looping or empty pool; then only Pub/Sub's own metric reports it). Runbook: ${var.runbook_url}#message-unacked-too-long"
    mime_type = "text/markdown"
  }

  alert_strategy {
    auto_close = local.auto_close
  }
}

resource "google_monitoring_alert_policy" "backend_errors" {
  project               = var.project_id
  display_name          = "AIPROD: render backend failing"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = { app = "aiprod" }

  conditions {
    display_name = "Failed tries over finished tries of a backend above the bound"
    condition_prometheus_query_language {
      query      = <<-EOT
        (
          sum by (backend) (increase(aiprod_render_failures_total[15m]))
          / sum by (backend) (increase(aiprod_render_tries_total[15m]))
        ) > ${var.backend_error_ratio}
        and sum by (backend) (increase(aiprod_render_tries_total[15m])) >= ${var.backend_min_tries}
      EOT
      duration   = "300s"
      alert_rule = "AiprodBackendErrorRatio"
      rule_group = "aiprod"
      # The series appear only once the services have exported them: the first apply precedes
      # the first deploy.
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "More than ${var.backend_error_ratio * 100} % of a render backend's tries failed over 15 minutes (at least ${var.backend_min_tries} tries). The fallback policy moves shots on, at a different price. Runbook: ${var.runbook_url}#render-backend-failing"
    mime_type = "text/markdown"
  }

  alert_strategy {
    auto_close = local.auto_close
  }
}

resource "google_monitoring_alert_policy" "circuit_open" {
  project               = var.project_id
  display_name          = "AIPROD: circuit breaker open"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = { app = "aiprod" }

  conditions {
    display_name = "A backend's circuit breaker has not closed"
    condition_prometheus_query_language {
      # Not closed at any sample of the window: open, or half-open probes still failing. An open
      # that a probe closes again within the window does not page.
      query      = "min by (backend) (min_over_time(aiprod_circuit_breaker_state[${var.circuit_open_seconds}s])) > 0"
      duration   = "0s"
      alert_rule = "AiprodCircuitOpen"
      rule_group = "aiprod"
      # The series appear only once the services have exported them: the first apply precedes
      # the first deploy.
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "A render pool's circuit breaker for its vendor has stayed open (or half-open) for ${var.circuit_open_seconds} s: the vendor is down or refusing us. Runbook: ${var.runbook_url}#circuit-breaker-open"
    mime_type = "text/markdown"
  }

  alert_strategy {
    auto_close = local.auto_close
  }
}

resource "google_monitoring_alert_policy" "budget_burn" {
  project               = var.project_id
  display_name          = "AIPROD: tenant near its spend cap"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = { app = "aiprod" }

  conditions {
    display_name = "A tenant's monthly spend over its cap above the bound"
    condition_prometheus_query_language {
      query      = "max by (tenant) (aiprod_tenant_spend_cap_ratio) > ${var.budget_burn_ratio}"
      duration   = "0s"
      alert_rule = "AiprodBudgetBurn"
      rule_group = "aiprod"
      # The series appear only once the services have exported them: the first apply precedes
      # the first deploy.
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "A tenant has spent more than ${var.budget_burn_ratio * 100} % of its monthly cap; at 100 % the gateway refuses its new jobs. Runbook: ${var.runbook_url}#tenant-near-its-spend-cap"
    mime_type = "text/markdown"
  }

  alert_strategy {
    auto_close = local.auto_close
  }
}

resource "google_monitoring_alert_policy" "availability_fast_burn" {
  project               = var.project_id
  display_name          = "AIPROD: gateway availability burning fast"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels
  user_labels           = { app = "aiprod" }

  conditions {
    display_name = "5xx ratio above ${local.fast_burn}x the error budget over 1 h and 5 min"
    condition_prometheus_query_language {
      query      = <<-EOT
        (
          sum(rate(aiprod_http_requests_total{code=~"5..",${local.gateway_requests}}[1h]))
          / sum(rate(aiprod_http_requests_total{${local.gateway_requests}}[1h]))
        ) > ${local.fast_burn} * (1 - ${var.availability_objective})
        and
        (
          sum(rate(aiprod_http_requests_total{code=~"5..",${local.gateway_requests}}[5m]))
          / sum(rate(aiprod_http_requests_total{${local.gateway_requests}}[5m]))
        ) > ${local.fast_burn} * (1 - ${var.availability_objective})
      EOT
      duration   = "60s"
      alert_rule = "AiprodAvailabilityFastBurn"
      rule_group = "aiprod"
      # The series appear only once the services have exported them: the first apply precedes
      # the first deploy.
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "The gateway answers 5xx fast enough to spend 2 % of the month's error budget (availability objective ${var.availability_objective}) in an hour. Runbook: ${var.runbook_url}#gateway-availability-burning-fast"
    mime_type = "text/markdown"
  }

  alert_strategy {
    auto_close = local.auto_close
  }
}

resource "google_monitoring_alert_policy" "availability_slow_burn" {
  project               = var.project_id
  display_name          = "AIPROD: gateway availability burning slowly"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = { app = "aiprod" }

  conditions {
    display_name = "5xx ratio above ${local.slow_burn}x the error budget over 6 h and 30 min"
    condition_prometheus_query_language {
      query      = <<-EOT
        (
          sum(rate(aiprod_http_requests_total{code=~"5..",${local.gateway_requests}}[6h]))
          / sum(rate(aiprod_http_requests_total{${local.gateway_requests}}[6h]))
        ) > ${local.slow_burn} * (1 - ${var.availability_objective})
        and
        (
          sum(rate(aiprod_http_requests_total{code=~"5..",${local.gateway_requests}}[30m]))
          / sum(rate(aiprod_http_requests_total{${local.gateway_requests}}[30m]))
        ) > ${local.slow_burn} * (1 - ${var.availability_objective})
      EOT
      duration   = "300s"
      alert_rule = "AiprodAvailabilitySlowBurn"
      rule_group = "aiprod"
      # The series appear only once the services have exported them: the first apply precedes
      # the first deploy.
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "The gateway answers 5xx fast enough to spend 5 % of the month's error budget (availability objective ${var.availability_objective}) in six hours. Runbook: ${var.runbook_url}#gateway-availability-burning-slowly"
    mime_type = "text/markdown"
  }

  alert_strategy {
    auto_close = local.auto_close
  }
}
