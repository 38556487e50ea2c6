// Package metrics exposes what a host does to Prometheus: commands by
// domain, command and outcome, with the guest's decision time, the commit
// time, fuel burnt and conflicts met; group-commit batch sizes; plugin
// instances; subscriptions' lag and dead letters; the age of the oldest
// PostgreSQL transaction (which holds the event feed back); idempotency
// records; HTTP latency. Commands reach it as the host's Observer (a few
// atomic adds per command); the rest is read at scrape time.
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

// Metrics is a host's registry, the instruments the HTTP layer feeds, and
// the host's Observer (set it as host.Config.Observer, then Watch the host).
type Metrics struct {
	Registry *prometheus.Registry
	// HTTP times requests by method, route kind and status class.
	HTTP *prometheus.HistogramVec

	commands  *prometheus.CounterVec
	decide    *prometheus.HistogramVec
	commit    *prometheus.HistogramVec
	fuel      *prometheus.HistogramVec
	conflicts *prometheus.CounterVec
	swaps     *prometheus.CounterVec
	batch     prometheus.Histogram
	batchTime prometheus.Histogram
}

var latency = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New registers the command and commit instruments, Go's runtime and
// process collectors, and the HTTP histogram. The host's own figures join
// them with Watch.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{Registry: reg,
		HTTP: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fluvius_http_request_duration_seconds", Help: "HTTP requests by method, kind of route and status class.",
			Buckets: latency}, []string{"method", "route", "status"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fluvius_commands_total", Help: "Commands dispatched on this host, by domain, command and outcome (ok, refused: 4xx, failed: 5xx)."},
			[]string{"domain", "command", "outcome"}),
		decide: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fluvius_command_decide_seconds", Help: "Time the guest took deciding a command, over all its attempts.",
			Buckets: latency}, []string{"domain", "command"}),
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fluvius_command_commit_seconds", Help: "Time from a command's write handed to group commit to its commit (queueing behind the batch ahead included).",
			Buckets: latency}, []string{"domain"}),
		fuel: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fluvius_command_fuel", Help: "Fuel a command's guest burnt, over all its attempts (metering units; none when unmetered).",
			Buckets: prometheus.ExponentialBuckets(1000, 4, 12)}, []string{"domain", "command"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fluvius_version_conflicts_total", Help: "Version conflicts met: another host wrote the aggregate first. Each but a command's last is decided again."},
			[]string{"domain", "command"}),
		swaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fluvius_plugin_swap_retries_total", Help: "Commands decided again because their plugin was swapped while they were decided."},
			[]string{"domain"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fluvius_commit_batch_size", Help: "Commands per group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fluvius_commit_transaction_seconds", Help: "Time one group-commit transaction took to commit.",
			Buckets: latency}),
	}
	reg.MustRegister(m.HTTP, m.commands, m.decide, m.commit, m.fuel, m.conflicts, m.swaps, m.batch, m.batchTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Watch adds the figures read from the host at scrape time: instances,
// subscriptions, idempotency records, the store's health.
func (m *Metrics) Watch(h *host.Host) { m.Registry.MustRegister(&hostCollector{h: h}) }

// Command records one dispatched command (host.Observer).
func (m *Metrics) Command(s host.CommandStats) {
	m.commands.WithLabelValues(s.Domain, s.Command, s.Outcome).Inc()
	if s.Decide > 0 {
		m.decide.WithLabelValues(s.Domain, s.Command).Observe(s.Decide.Seconds())
	}
	if s.Commit > 0 {
		m.commit.WithLabelValues(s.Domain).Observe(s.Commit.Seconds())
	}
	if s.Fuel > 0 {
		m.fuel.WithLabelValues(s.Domain, s.Command).Observe(float64(s.Fuel))
	}
	if s.Conflicts > 0 {
		m.conflicts.WithLabelValues(s.Domain, s.Command).Add(float64(s.Conflicts))
	}
	if s.Swaps > 0 {
		m.swaps.WithLabelValues(s.Domain).Add(float64(s.Swaps))
	}
}

// Commit records one group-commit transaction (host.Observer).
func (m *Metrics) Commit(commands int, took time.Duration) {
	m.batch.Observe(float64(commands))
	m.batchTime.Observe(took.Seconds())
}

var (
	instancesDesc = prometheus.NewDesc("fluvius_plugin_instances", "Plugin instances, by domain and state (busy, idle).",
		[]string{"domain", "state"}, nil)
	lagDesc = prometheus.NewDesc("fluvius_subscription_lag", "Feed events after each subscription's checkpoint.",
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
	for _, d := range []*prometheus.Desc{instancesDesc, lagDesc, deadDesc, pgAgeDesc, upDesc, idemDesc} {
		ch <- d
	}
}

func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.h.Plugins() {
		d := p.Domain()
		busy := p.InstancesBusy()
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(busy), d, "busy")
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(p.Instances()-busy), d, "idle")
	}
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
