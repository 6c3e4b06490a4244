package stream

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
)

// panicky is a translator that panics on an event or on the heartbeat.
type panicky struct {
	Translator
	onEvent, onBeat bool
	beats           atomic.Int32
}

func (p *panicky) Event(dst []byte, ev *Event) ([]byte, error) {
	if p.onEvent && strings.Contains(string(ev.Data), "boom") {
		panic("translator bug")
	}
	return p.Translator.Event(dst, ev)
}

func (p *panicky) Heartbeat() []byte {
	// The first call is the relay's setup asking whether it has a
	// heartbeat; later ones run on the heartbeat timer.
	if p.onBeat && p.beats.Add(1) > 1 {
		panic("heartbeat bug")
	}
	return p.Translator.Heartbeat()
}

// TestRelayRecoversPanics: a panic while relaying ends that stream with
// an error event and a *PanicError carrying the stack, instead of taking
// down the process (fasthttp runs WriteTo outside any recover), whether it
// happens on the relay's goroutine or on its heartbeat timer.
func TestRelayRecoversPanics(t *testing.T) {
	t.Run("event", func(t *testing.T) {
		up := newScripted(nil, ev1, "data: {\"boom\":1}\n\n", done)
		close(up.reads)
		w := &chunkWriter{}
		var out Outcome
		r := NewRelay(up, &panicky{Translator: PassThrough(wire.OpenAIChat), onEvent: true},
			Options{OnFinish: FinishFunc(func(o Outcome) { out = o })})
		_, err := r.WriteTo(w)
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "translator bug" || !strings.Contains(string(pe.Stack), "panicky") {
			t.Fatalf("WriteTo = %v, want a *PanicError with the panic's stack", err)
		}
		if !errors.As(out.Err, &pe) {
			t.Errorf("outcome error %v", out.Err)
		}
		if got := w.all(); !strings.HasPrefix(got, ev1) || !strings.Contains(got, `"error"`) || !strings.Contains(got, pe.Public()) {
			t.Errorf("client got %q, want the first event then an error event", got)
		}
	})
	t.Run("heartbeat", func(t *testing.T) {
		up := newScripted(nil, ev1) // then silence: the heartbeat fires
		w := &chunkWriter{}
		r := NewRelay(up, &panicky{Translator: PassThrough(wire.OpenAIChat), onBeat: true},
			Options{Heartbeat: 10 * time.Millisecond})
		got := make(chan error, 1)
		go func() { _, err := r.WriteTo(w); got <- err }()
		select {
		case err := <-got:
			if err == nil {
				t.Fatal("relay ended cleanly after its heartbeat panicked")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("relay hung after its heartbeat panicked")
		}
		if !strings.Contains(w.all(), `"error"`) {
			t.Errorf("client got %q, want an error event", w.all())
		}
	})
}
