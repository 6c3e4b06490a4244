package signin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/kiro"
	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
)

// States of a sign-in.
const (
	Pending = "pending"
	Done    = "done"
	Failed  = "failed"
)

// Errors of the Manager, for the admin API to answer with the right status.
var (
	// ErrTooMany: MaxPending sign-ins are already under way.
	ErrTooMany = errors.New("too many sign-ins under way: finish or wait out one")
	// ErrExpired: the sign-in's time ran out.
	ErrExpired = errors.New("the sign-in expired: start another")
	// ErrInvalid: the request cannot start or finish a sign-in.
	ErrInvalid = errors.New("invalid sign-in request")
)

// View is what the admin API shows of a sign-in: never a token, a code
// verifier or a device code.
type View struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Type     string `json:"type"`
	Method   string `json:"method"`
	State    string `json:"state"`
	// AuthorizeURL is the page to sign in at (browser sign-ins).
	AuthorizeURL string `json:"authorize_url,omitempty"`
	// RedirectPrefix is how the address the browser ends on begins: the
	// URL to paste back (browser sign-ins).
	RedirectPrefix string `json:"redirect_prefix,omitempty"`
	// VerificationURL and UserCode are what the user types where (device
	// sign-ins).
	VerificationURL string    `json:"verification_url,omitempty"`
	UserCode        string    `json:"user_code,omitempty"`
	ExpiresAt       time.Time `json:"expires_at"`
	// Account is the signed-in account's label, File its file (done).
	Account string `json:"account,omitempty"`
	File    string `json:"file,omitempty"`
	// Error is why the sign-in failed (failed), or what went wrong after
	// it succeeded (done: the provider could not be reloaded).
	Error string `json:"error,omitempty"`
}

// Options configure a Manager.
type Options struct {
	// Providers returns the running configuration's providers.
	Providers func() []config.Provider
	// Saved is called after an account file was written for provider, so
	// that the running provider loads it (a reload).
	Saved func(provider string) error
	// TTL is how long a sign-in may take (default 10 min); MaxPending how
	// many may be under way at once (default 8).
	TTL        time.Duration
	MaxPending int
	// Now is the clock (tests move it).
	Now func() time.Time
	Log *zap.Logger
}

// StartRequest starts a sign-in.
type StartRequest struct {
	Provider string `json:"provider"`
	// Method is browser or device (default: the type's usual one).
	Method string `json:"method,omitempty"`
	// StartURL and Region are Kiro's IAM Identity Center organisation
	// (default: AWS Builder ID, us-east-1).
	StartURL string `json:"start_url,omitempty"`
	Region   string `json:"region,omitempty"`
}

// Manager runs the sign-ins started from the admin API.
type Manager struct {
	o  Options
	mu sync.Mutex
	// byID holds sign-ins under way and, until their expiry, finished ones
	// (for their status).
	byID map[string]*session
}

type session struct {
	view   View
	flow   *accounts.Flow
	folder string
	busy   bool // a pasted redirect is being exchanged
	cancel context.CancelFunc
}

// NewManager returns a Manager; Close ends its device polls.
func NewManager(o Options) *Manager {
	if o.TTL <= 0 {
		o.TTL = 10 * time.Minute
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return &Manager{o: o, byID: map[string]*session{}}
}

// Close cancels the sign-ins under way.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.byID {
		if s.cancel != nil {
			s.cancel()
		}
	}
}

// Provider is a subscription provider one can sign in to.
type Provider struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Methods []string `json:"methods"`
	// Folder is where the accounts are saved; Problem why none can be.
	Folder  string `json:"credentials,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// Providers lists the running configuration's subscription providers.
func (m *Manager) Providers() []Provider {
	out := []Provider{}
	for _, p := range m.o.Providers() {
		if !p.IsSubscription() {
			continue
		}
		sp := Provider{Name: p.Name, Type: p.Type, Methods: Methods(p.Type), Folder: p.Credentials}
		if _, err := Folder(p, ""); err != nil {
			sp.Problem = err.Error()
		}
		out = append(out, sp)
	}
	return out
}

// Start begins a sign-in for a configured subscription provider.
func (m *Manager) Start(req StartRequest) (View, error) {
	var p config.Provider
	found := false
	for _, c := range m.o.Providers() {
		if c.Name == req.Provider {
			p, found = c, true
			break
		}
	}
	if !found {
		return View{}, fmt.Errorf("%w: no provider %q", ErrInvalid, req.Provider)
	}
	if !p.IsSubscription() {
		return View{}, fmt.Errorf("%w: provider %s (type %s) has no accounts to sign in", ErrInvalid, p.Name, p.Type)
	}
	if req.Method == "" {
		req.Method = Methods(p.Type)[0]
	}
	if !Supports(p.Type, req.Method) {
		return View{}, fmt.Errorf("%w: %s accounts sign in with %v, not %q", ErrInvalid, p.Type, Methods(p.Type), req.Method)
	}
	if (req.StartURL != "" || req.Region != "") && p.Type != config.TypeKiro {
		return View{}, fmt.Errorf("%w: start_url and region are for kiro", ErrInvalid)
	}
	folder, err := Folder(p, "")
	if err != nil {
		return View{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	id, err := newID()
	if err != nil {
		return View{}, err
	}
	now := m.o.Now()
	s := &session{folder: folder, view: View{ID: id, Provider: p.Name, Type: p.Type, Method: req.Method, State: Pending,
		ExpiresAt: now.Add(m.o.TTL).UTC()}}
	if err := m.admit(id, s, now); err != nil {
		return View{}, err
	}
	if req.Method == Browser {
		err = m.startBrowser(s, p)
	} else {
		err = m.startDevice(s, p, req)
	}
	if err != nil {
		m.mu.Lock()
		delete(m.byID, id)
		m.mu.Unlock()
		return View{}, err
	}
	m.o.Log.Info("sign-in started", zap.String("provider", p.Name), zap.String("method", req.Method), zap.String("id", id))
	return m.Status(id)
}

// admit holds a place for s, or refuses when MaxPending are under way.
func (m *Manager) admit(id string, s *session, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	pending := 0
	for k, o := range m.byID {
		switch {
		case now.After(o.view.ExpiresAt):
			if o.cancel != nil {
				o.cancel()
			}
			delete(m.byID, k)
		case o.view.State == Pending:
			pending++
		}
	}
	if pending >= m.o.MaxPending {
		return ErrTooMany
	}
	m.byID[id] = s
	return nil
}

func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (m *Manager) startBrowser(s *session, p config.Provider) error {
	l, err := BrowserLogin(p, 0)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	flow, authURL, err := l.Start()
	if err != nil {
		return err
	}
	m.mu.Lock()
	s.flow = flow
	s.view.AuthorizeURL = authURL
	s.view.RedirectPrefix = fmt.Sprintf("http://localhost:%d%s", l.Port, l.Path)
	m.mu.Unlock()
	return nil
}

// startDevice asks for the one-time code, then polls in the background
// until the user has entered it or the sign-in expires.
func (m *Manager) startDevice(s *session, p config.Provider, req StartRequest) error {
	ctx, cancel := context.WithDeadline(context.Background(), s.view.ExpiresAt)
	m.mu.Lock()
	s.cancel = cancel
	m.mu.Unlock()
	shown := func(verify, code string) {
		m.mu.Lock()
		s.view.VerificationURL, s.view.UserCode = verify, code
		m.mu.Unlock()
	}
	switch p.Type {
	case config.TypeCopilot:
		d := GitHubDevice(p)
		g, err := d.Start(ctx)
		if err != nil {
			cancel()
			return err
		}
		shown(g.VerificationURI, g.UserCode)
		go m.finish(s, func() (string, string, error) {
			tok, err := d.Poll(ctx, g)
			if err != nil {
				return "", "", err
			}
			return Save(p.Type, s.folder, tok, time.Now())
		})
	case config.TypeCodex:
		d, err := CodexDevice(p)
		if err != nil {
			cancel()
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		dc, err := d.Start(ctx)
		if err != nil {
			cancel()
			return err
		}
		shown(dc.VerificationURL, dc.UserCode)
		go m.finish(s, func() (string, string, error) {
			tok, err := d.Wait(ctx, dc)
			if err != nil {
				return "", "", err
			}
			return Save(p.Type, s.folder, tok, time.Now())
		})
	case config.TypeKiro:
		// Kiro's sign-in is one call that shows the code on its way.
		l := KiroDevice(p, req.StartURL, req.Region)
		ready := make(chan struct{})
		var once sync.Once
		failed := make(chan error, 1)
		go m.finish(s, func() (string, string, error) {
			file, err := l.Run(ctx, func(pr kiro.Prompt) {
				shown(pr.VerificationURI, pr.UserCode)
				once.Do(func() { close(ready) })
			})
			if err != nil {
				failed <- err
				return "", "", err
			}
			return SaveKiro(s.folder, file, time.Now())
		})
		select {
		case <-ready:
		case err := <-failed:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// finish records how a sign-in ended; a saved account is handed to Saved.
func (m *Manager) finish(s *session, run func() (path, label string, err error)) {
	path, label, err := run()
	m.end(s, path, label, err)
}

func (m *Manager) end(s *session, path, label string, err error) {
	var reloadErr error
	if err == nil && m.o.Saved != nil {
		reloadErr = m.o.Saved(s.view.Provider)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	if err != nil && s.view.State != Pending {
		return // cancelled or expired: the poll's own error says less
	}
	if err != nil {
		s.view.State, s.view.Error = Failed, err.Error()
		m.o.Log.Warn("sign-in failed", zap.String("provider", s.view.Provider), zap.String("id", s.view.ID), zap.Error(err))
		return
	}
	s.view.State, s.view.Account, s.view.File = Done, label, path
	s.view.UserCode, s.view.AuthorizeURL = "", ""
	if reloadErr != nil {
		s.view.Error = "the account is saved, but the provider was not reloaded: " + reloadErr.Error()
	}
	m.o.Log.Info("signed in", zap.String("provider", s.view.Provider), zap.String("account", label), zap.String("file", path))
}

// Complete finishes a browser sign-in with the redirect URL the browser
// ended on: its state must be this sign-in's, then its code is exchanged
// and the account saved. A redirect that is not this sign-in's is refused
// (ErrInvalid) and the sign-in stays pending.
func (m *Manager) Complete(id, redirect string) (View, error) {
	m.mu.Lock()
	s, ok := m.byID[id]
	switch {
	case !ok:
		m.mu.Unlock()
		return View{}, ErrUnknown
	case s.flow == nil:
		m.mu.Unlock()
		return View{}, fmt.Errorf("%w: a %s sign-in finishes by itself once the code is entered", ErrInvalid, s.view.Method)
	case s.view.State != Pending:
		m.mu.Unlock()
		return View{}, fmt.Errorf("%w: the sign-in is already %s", ErrInvalid, s.view.State)
	case m.o.Now().After(s.view.ExpiresAt):
		s.view.State, s.view.Error = Failed, ErrExpired.Error()
		m.mu.Unlock()
		return View{}, ErrExpired
	case s.busy:
		m.mu.Unlock()
		return View{}, fmt.Errorf("%w: a redirect for this sign-in is being exchanged", ErrInvalid)
	}
	s.busy = true
	m.mu.Unlock()
	tok, err := s.flow.Pasted(redirect)
	if errors.Is(err, accounts.ErrRedirect) {
		m.mu.Lock()
		s.busy = false
		m.mu.Unlock()
		return View{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var path, label string
	if err == nil {
		path, label, err = Save(s.view.Type, s.folder, tok, time.Now())
	}
	m.end(s, path, label, err)
	return m.Status(id)
}

// Status is a sign-in's state; one past its expiry that was still pending
// has failed.
func (m *Manager) Status(id string) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[id]
	if !ok {
		return View{}, ErrUnknown
	}
	if s.view.State == Pending && m.o.Now().After(s.view.ExpiresAt) {
		s.view.State, s.view.Error = Failed, ErrExpired.Error()
		if s.cancel != nil {
			s.cancel()
		}
	}
	return s.view, nil
}

// Cancel ends a sign-in under way.
func (m *Manager) Cancel(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[id]
	if !ok {
		return ErrUnknown
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.view.State == Pending {
		s.view.State, s.view.Error = Failed, "cancelled"
	}
	return nil
}
