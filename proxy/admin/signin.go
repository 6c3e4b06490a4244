package admin

import (
	"errors"
	"net/http"

	"github.com/llmproxy/proxy/proxy/signin"
	"go.uber.org/zap"
)

// SignIns runs the subscription providers' sign-ins (signin.Manager).
type SignIns interface {
	Providers() []signin.Provider
	Start(signin.StartRequest) (signin.View, error)
	Complete(id, redirect string) (signin.View, error)
	Status(id string) (signin.View, error)
	Cancel(id string) error
}

// signins refuses when this process runs no sign-ins.
func (a *api) signins(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.o.SignIns == nil {
			writeError(w, http.StatusNotFound, "disabled", "this process runs no sign-ins")
			return
		}
		h(w, r)
	}
}

func (a *api) signinProviders(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"providers": a.o.SignIns.Providers()})
}

func (a *api) startSignin(w http.ResponseWriter, r *http.Request) {
	var req signin.StartRequest
	if err := decode(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	v, err := a.o.SignIns.Start(req)
	if err != nil {
		a.signinError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (a *api) completeSignin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RedirectURL string `json:"redirect_url"`
	}
	if err := decode(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	v, err := a.o.SignIns.Complete(r.PathValue("id"), req.RedirectURL)
	if err != nil {
		a.signinError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *api) signinStatus(w http.ResponseWriter, r *http.Request) {
	v, err := a.o.SignIns.Status(r.PathValue("id"))
	if err != nil {
		a.signinError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *api) cancelSignin(w http.ResponseWriter, r *http.Request) {
	if err := a.o.SignIns.Cancel(r.PathValue("id")); err != nil {
		a.signinError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// signinError answers a sign-in's error; an upstream's refusal to start
// one (a device code not granted) is a bad gateway. The messages name no
// token: the sign-in code never puts one in an error.
func (a *api) signinError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, signin.ErrUnknown):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, signin.ErrExpired):
		writeError(w, http.StatusGone, "expired", err.Error())
	case errors.Is(err, signin.ErrTooMany):
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "too_many", err.Error())
	case errors.Is(err, signin.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
	default:
		a.o.Log.Warn("admin API: sign-in", zap.Error(err))
		writeError(w, http.StatusBadGateway, "upstream", err.Error())
	}
}
