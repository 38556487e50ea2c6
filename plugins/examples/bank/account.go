package main

import (
	"strconv"

	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// Domain is the bank domain.
var Domain = sdk.NewDomain("bank", sdk.Meta{
	Revision:    1,
	Title:       "Bank accounts",
	Description: "Accounts with deposits and withdrawals; no overdraft.",
	Tags:        []string{"finance", "example"},
})

// MinimumOpeningCents is the least an account is opened with (100.00).
const MinimumOpeningCents = 10_000

// Account is the state of one account. Money is in cents.
type Account struct {
	Owner        string
	BalanceCents int64
	Status       string // open or closed
	OpenedAt     int64
}

// EncodeJSON writes the account.
func (a *Account) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("owner").String(a.Owner).Key("balance_cents").Int(a.BalanceCents).
		Key("status").String(a.Status).Key("opened_at").Int(a.OpenedAt).EndObject()
}

// DecodeJSON reads the account.
func (a *Account) DecodeJSON(v jsonlite.Value) error {
	a.Owner = v.Get("owner").Str()
	a.BalanceCents = v.Get("balance_cents").Int()
	a.Status = v.Get("status").Str()
	a.OpenedAt = v.Get("opened_at").Int()
	return nil
}

type amount int64

func (m amount) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("amount_cents").Int(int64(m)).EndObject()
}

type opened struct {
	owner   string
	balance int64
}

func (o opened) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("owner").String(o.owner).Key("balance_cents").Int(o.balance).EndObject()
}

func amountSchema() *sdk.Schema {
	return sdk.Object(sdk.Required("amount_cents", sdk.Integer().Min(1).Max(1_000_000_000_00)))
}

func init() {
	accounts := sdk.NewAggregate[Account](Domain, "account").StateSchema(sdk.Object(
		sdk.Required("owner", sdk.String()),
		sdk.Required("balance_cents", sdk.Integer()),
		sdk.Required("status", sdk.String().Enum("open", "closed")),
		sdk.Required("opened_at", sdk.Integer()),
	)).Query(sdk.QueryResource{
		Fields: []string{"owner", "balance_cents", "status", "opened_at"},
		Sort:   []string{"owner.asc"},
		Text:   []string{"owner"},
	})
	accounts.Action(sdk.Action[Account]{
		Name: "open-account", Title: "Open an account", EvtKey: "account-opened", New: true,
		Payload: sdk.Object(
			sdk.Required("owner", sdk.String().MinLength(1).MaxLength(200)),
			sdk.Required("initial_deposit_cents", sdk.Integer().Min(0).Max(1_000_000_000_00)),
		),
		Handle: func(c *sdk.Call, _ *Account, p jsonlite.Value) error {
			initial := p.Get("initial_deposit_cents").Int()
			if initial < MinimumOpeningCents {
				return sdk.Fail("below-minimum-balance",
					"an account is opened with at least "+strconv.Itoa(MinimumOpeningCents)+" cents")
			}
			return c.Emit(opened{owner: p.Get("owner").Str(), balance: initial})
		},
	})
	accounts.Action(sdk.Action[Account]{
		Name: "deposit", Title: "Deposit money", EvtKey: "deposited", Payload: amountSchema(),
		Handle: func(c *sdk.Call, a *Account, p jsonlite.Value) error {
			if err := open(a); err != nil {
				return err
			}
			return c.Emit(amount(p.Get("amount_cents").Int()))
		},
	})
	accounts.Action(sdk.Action[Account]{
		Name: "withdraw", Title: "Withdraw money", EvtKey: "withdrawn", Payload: amountSchema(),
		Handle: func(c *sdk.Call, a *Account, p jsonlite.Value) error {
			if err := open(a); err != nil {
				return err
			}
			m := p.Get("amount_cents").Int()
			if m > a.BalanceCents {
				return sdk.Fail("insufficient-funds", "the balance is "+strconv.FormatInt(a.BalanceCents, 10)+
					" cents; no overdraft")
			}
			return c.Emit(amount(m))
		},
	})
	accounts.Action(sdk.Action[Account]{
		Name: "close-account", Title: "Close an account", EvtKey: "account-closed",
		Handle: func(c *sdk.Call, a *Account, _ jsonlite.Value) error {
			if err := open(a); err != nil {
				return err
			}
			if a.BalanceCents != 0 {
				return sdk.Fail("balance-not-zero", "withdraw the remaining "+strconv.FormatInt(a.BalanceCents, 10)+
					" cents before closing")
			}
			return c.Emit(nil)
		},
	})
	accounts.Apply("account-opened", func(a *Account, e sdk.Event) error {
		a.Owner, a.BalanceCents = e.Data.Get("owner").Str(), e.Data.Get("balance_cents").Int()
		a.Status, a.OpenedAt = "open", e.Time
		return nil
	})
	accounts.Apply("deposited", func(a *Account, e sdk.Event) error {
		a.BalanceCents += e.Data.Get("amount_cents").Int()
		return nil
	})
	accounts.Apply("withdrawn", func(a *Account, e sdk.Event) error {
		a.BalanceCents -= e.Data.Get("amount_cents").Int()
		return nil
	})
	accounts.Apply("account-closed", func(a *Account, e sdk.Event) error {
		a.Status = "closed"
		return nil
	})
}

func open(a *Account) error {
	if a.Status == "closed" {
		return sdk.Fail("account-closed", "the account is closed")
	}
	return nil
}
