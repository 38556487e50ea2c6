// Package metrics exposes what a host does to Prometheus: commands by
// domain and outcome, plugin instances, group commits, subscriptions' lag
// and dead letters, the age of the oldest PostgreSQL transaction (which
// holds the event feed back), and HTTP latency. Host figures are read at
// scrape time from counters the host keeps anyway; nothing is added to the
// command path but the HTTP timer.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
)

// Metrics is a host's registry and the instruments the HTTP layer feeds.
type Metrics struct {
	Registry *prometheus.Registry
	// HTTP times requests by method, route kind and status class.
	HTTP *prometheus.HistogramVec
}

// New registers the host's collectors, Go's runtime and process ones, and
// the HTTP histogram.
func New(h *host.Host) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{Registry: reg, HTTP: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "fluvius_http_request_duration_seconds", Help: "HTTP requests by method, kind of route and status class.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "status"})}
	reg.MustRegister(m.HTTP, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&hostCollector{h: h})
	return m
}

var (
	commandsDesc = prometheus.NewDesc("fluvius_commands_total", "Commands dispatched on this host, by domain and outcome (ok, refused: 4xx, failed: 5xx).",
		[]string{"domain", "outcome"}, nil)
	instancesDesc = prometheus.NewDesc("fluvius_plugin_instances", "Plugin instances, by domain and state (busy, idle).",
		[]string{"domain", "state"}, nil)
	commitTxDesc  = prometheus.NewDesc("fluvius_commit_transactions_total", "Group-commit transactions written.", nil, nil)
	commitCmdDesc = prometheus.NewDesc("fluvius_commit_commands_total", "Commands written by group commit.", nil, nil)
	commitMaxDesc = prometheus.NewDesc("fluvius_commit_largest_batch", "The most commands one group-commit transaction carried.", nil, nil)
	lagDesc       = prometheus.NewDesc("fluvius_subscription_lag", "Feed events after each subscription's checkpoint.",
		[]string{"subscription"}, nil)
	deadDesc = prometheus.NewDesc("fluvius_subscription_dead_letters", "Unresolved dead letters of each subscription.",
		[]string{"subscription"}, nil)
	pgAgeDesc = prometheus.NewDesc("fluvius_pg_oldest_transaction_seconds",
		"Age of the oldest open transaction in the PostgreSQL cluster: the event feed cannot pass it (pg_snapshot_xmin).", nil, nil)
	upDesc   = prometheus.NewDesc("fluvius_store_up", "1 if the store answered the scrape's queries.", nil, nil)
	idemDesc = prometheus.NewDesc("fluvius_idempotency_records", "Idempotency records held (they expire after --idempotency-ttl).", nil, nil)
)

type hostCollector struct{ h *host.Host }

func (c *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{commandsDesc, instancesDesc, commitTxDesc, commitCmdDesc, commitMaxDesc, lagDesc, deadDesc, pgAgeDesc, upDesc, idemDesc} {
		ch <- d
	}
}

func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.h.Plugins() {
		d := p.Domain()
		n := c.h.Counts(d)
		ch <- prometheus.MustNewConstMetric(commandsDesc, prometheus.CounterValue, float64(n.Commands-n.Refused-n.Failed), d, "ok")
		ch <- prometheus.MustNewConstMetric(commandsDesc, prometheus.CounterValue, float64(n.Refused), d, "refused")
		ch <- prometheus.MustNewConstMetric(commandsDesc, prometheus.CounterValue, float64(n.Failed), d, "failed")
		busy := p.InstancesBusy()
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(busy), d, "busy")
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(p.Instances()-busy), d, "idle")
	}
	cs := c.h.CommitStats()
	ch <- prometheus.MustNewConstMetric(commitTxDesc, prometheus.CounterValue, float64(cs.Transactions))
	ch <- prometheus.MustNewConstMetric(commitCmdDesc, prometheus.CounterValue, float64(cs.Commands))
	ch <- prometheus.MustNewConstMetric(commitMaxDesc, prometheus.GaugeValue, float64(cs.LargestBatch))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up := 1.0
	if ss, ok := c.h.Store().(store.SubscriptionStore); ok {
		subs, err := ss.SubscriptionList(ctx)
		if err != nil {
			up = 0
		}
		for _, s := range subs {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(s.Lag), s.Name)
			ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(s.DeadLetters), s.Name)
		}
	}
	if pg, ok := c.h.Store().(*postgres.Driver); ok {
		var age float64
		err := pg.Pool().QueryRow(ctx, `SELECT coalesce(extract(epoch FROM now() - min(xact_start)), 0)::float8
			FROM pg_stat_activity WHERE backend_xid IS NOT NULL OR backend_xmin IS NOT NULL`).Scan(&age)
		if err != nil {
			up = 0
		} else {
			ch <- prometheus.MustNewConstMetric(pgAgeDesc, prometheus.GaugeValue, age)
		}
	}
	if sw, ok := c.h.Store().(store.IdempotencySweeper); ok {
		if n, err := sw.IdempotencyCount(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(idemDesc, prometheus.GaugeValue, float64(n))
		} else {
			up = 0
		}
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
}
