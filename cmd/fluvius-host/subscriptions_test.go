package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fluvius.dev/fluvius/store/postgres/pgtest"
)

// subscriptionState is one row of GET /_admin/subscriptions.
type subscriptionState struct {
	Name        string `json:"name"`
	Owner       string `json:"owner"`
	RunsHere    bool   `json:"runs_here"`
	Delivered   int64  `json:"delivered"`
	Lag         int64  `json:"lag"`
	DeadLetters int64  `json:"dead_letters"`
}

func (p *process) subscription(t *testing.T, key, name string) subscriptionState {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+"/_admin/subscriptions", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Subscriptions []subscriptionState `json:"subscriptions"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("subscriptions: %d %v", res.StatusCode, err)
	}
	for _, s := range out.Subscriptions {
		if s.Name == name {
			return s
		}
	}
	return subscriptionState{}
}

// reservations lists every reservation's order id, paging by cursor.
func (p *process) reservations(t *testing.T) []string {
	t.Helper()
	var out []string
	cursor := ""
	for {
		u := p.url + "/inventory.reservation/?limit=100&sort=_id.asc"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Data []struct {
				Data struct {
					OrderID string `json:"order_id"`
				} `json:"data"`
			} `json:"data"`
			Pagination struct {
				Cursor string `json:"cursor"`
			} `json:"pagination"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("listing reservations: %d %v", res.StatusCode, err)
		}
		for _, r := range page.Data {
			out = append(out, r.Data.OrderID)
		}
		if page.Pagination.Cursor == "" || len(page.Data) == 0 {
			return out
		}
		cursor = page.Pagination.Cursor
	}
}

// placeOrders places n orders over HTTP, 8 at a time, and returns their ids.
func placeOrders(t *testing.T, base string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res, err := http.Post(base+"/order:place-order/order/:new", "application/json",
					strings.NewReader(fmt.Sprintf(`{"customer":"c%d","items":[{"sku":"tea","quantity":%d,"price_cents":450}]}`, i, 1+i%9)))
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					continue
				}
				var body struct {
					ID string `json:"id"`
				}
				json.NewDecoder(res.Body).Decode(&body)
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 201 {
					mu.Lock()
					failed = fmt.Errorf("placing order %d: %d", i, res.StatusCode)
					mu.Unlock()
				}
				ids[i] = body.ID
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	return ids
}

// Kill -9 a host while its subscription is mid-batch, then let another
// process carry on: every order gets exactly one reservation, none is
// skipped, none is made twice. On SQLite the same host restarts on its
// file; on PostgreSQL a second host takes the subscription over once the
// dead one's lease runs out.
func TestKillHostMidBatch(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	buildPlugins(t, plugins, "../../plugins/examples/order", "../../plugins/examples/inventory")
	const key, sub, orders = "an-admin-key-for-the-kill-test", "inventory.reserve-for-order", 300
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			args := []string{"--plugins-dir", plugins, "--admin-key", key, "--subscription-lease", "1s"}
			dataA, dataB := filepath.Join(t.TempDir(), "a"), ""
			if driver == "postgres" {
				args = append(args, "--database-url", pgtest.URL(t), "--blobs-dir", filepath.Join(t.TempDir(), "blobs"))
				dataB = filepath.Join(t.TempDir(), "b")
			} else {
				dataB = dataA
			}
			a := startProcess(t, append(args, "--data-dir", dataA)...)
			within(t, "the subscription is claimed", 30*time.Second, func() bool { return a.subscription(t, key, sub).RunsHere })
			ids := placeOrders(t, a.url, orders)
			// Killed once it has handled some of the orders, before it
			// has handled them all (a batch is 100 events).
			var atKill int
			within(t, "some reservations made", 60*time.Second, func() bool { atKill = len(a.reservations(t)); return atKill > 0 })
			a.cmd.Process.Signal(syscall.SIGKILL)
			a.cmd.Wait()
			b := startProcess(t, append(args, "--data-dir", dataB)...)
			within(t, "every order reserved", 90*time.Second, func() bool {
				s := b.subscription(t, key, sub)
				return s.Lag == 0 && len(b.reservations(t)) >= orders
			})
			got := b.reservations(t)
			count := map[string]int{}
			for _, o := range got {
				count[o]++
			}
			for _, id := range ids {
				if count[id] != 1 {
					t.Fatalf("order %s has %d reservations", id, count[id])
				}
			}
			if len(got) != orders {
				t.Fatalf("%d reservations for %d orders", len(got), orders)
			}
			if s := b.subscription(t, key, sub); s.DeadLetters != 0 {
				t.Fatalf("dead letters: %+v", s)
			}
			t.Logf("killed with %d of %d reservations seen; after the restart, %d, each once", atKill, orders, len(got))
			if atKill >= orders {
				t.Logf("the host had reserved every order before it was killed: the kill tested nothing mid-batch")
			}
		})
	}
}

// adminCall sends a management API request and decodes the answer.
func adminCall(t *testing.T, method, u, key string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// A delivery refused for good (an order of a discontinued SKU: inventory
// refuses to reserve it) is set aside at once; the management API lists it,
// and an operator skips it. Only the admin may.
func TestDeadLettersOverHTTP(t *testing.T) {
	plugins := filepath.Join(t.TempDir(), "plugins")
	buildPlugins(t, plugins, "../../plugins/examples/order", "../../plugins/examples/inventory")
	const key, sub = "an-admin-key-for-the-dead-letter-test", "inventory.reserve-for-order"
	p := startProcess(t, "--plugins-dir", plugins, "--admin-key", key, "--data-dir", filepath.Join(t.TempDir(), "data"))
	within(t, "the subscription is claimed", 30*time.Second, func() bool { return p.subscription(t, key, sub).RunsHere })
	res, err := http.Post(p.url+"/order:place-order/order/:new", "application/json",
		strings.NewReader(`{"customer":"ann","items":[{"sku":"discontinued-kettle","quantity":1,"price_cents":2000}]}`))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("placing the order: %v %v", res, err)
	}
	res.Body.Close()
	within(t, "the delivery is set aside", 30*time.Second, func() bool { return p.subscription(t, key, sub).DeadLetters == 1 })
	base := p.url + "/_admin/subscriptions/" + sub + "/dead-letters"
	status, body := adminCall(t, "GET", base, key)
	letters, _ := body["dead_letters"].([]any)
	if status != 200 || len(letters) != 1 {
		t.Fatalf("dead letters: %d %v", status, body)
	}
	l := letters[0].(map[string]any)
	if l["code"] != "sku-discontinued" || l["type"] != "order-placed" || l["attempts"] != float64(1) {
		t.Fatalf("the letter: %v", l)
	}
	id := fmt.Sprint(int64(l["id"].(float64)))
	if status, _ := adminCall(t, "POST", base+"/"+id+"/skip", ""); status != 401 {
		t.Fatalf("skipping without credentials: %d", status)
	}
	// Retrying it fails the same way, and says why.
	if status, body := adminCall(t, "POST", base+"/"+id+"/retry", key); status != 422 || body["code"] != "sku-discontinued" {
		t.Fatalf("retrying: %d %v", status, body)
	}
	if status, body := adminCall(t, "POST", base+"/"+id+"/skip", key); status != 200 || body["resolution"] != "skipped" {
		t.Fatalf("skipping: %d %v", status, body)
	}
	if status, body := adminCall(t, "POST", base+"/"+id+"/retry", key); status != 409 || body["code"] != "dead-letter-resolved" {
		t.Fatalf("retrying a skipped letter: %d %v", status, body)
	}
	if status, body := adminCall(t, "POST", base+"/999999/skip", key); status != 404 {
		t.Fatalf("an unknown letter: %d %v", status, body)
	}
	if s := p.subscription(t, key, sub); s.DeadLetters != 0 {
		t.Fatalf("after the skip: %+v", s)
	}
	status, body = adminCall(t, "GET", base+"?resolved=true", key)
	if letters, _ := body["dead_letters"].([]any); status != 200 || len(letters) != 1 || letters[0].(map[string]any)["resolved_by"] == "" {
		t.Fatalf("resolved letters: %d %v", status, body)
	}
}
