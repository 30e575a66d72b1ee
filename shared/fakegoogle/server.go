package fakegoogle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
)

// Options configure a Server. The zero value of every field is usable.
type Options struct {
	// Clock tells the time: token and watch expiry, history retention,
	// quota windows. Default: the real clock.
	Clock clock.Clock
	// Seed makes fault injection and history-id gaps deterministic.
	// Default 1.
	Seed uint64
	// QuotaPerUserPerMinute is each user's budget of quota units per minute
	// and API: Gmail's quota page gives 6,000 per minute per user per
	// project for projects created since 1 May 2026 (15,000 before). Zero
	// means unlimited.
	QuotaPerUserPerMinute int
	// QuotaPerProjectPerMinute is the project's budget of quota units per
	// minute and API, all users together (Gmail: 1,200,000); past it calls
	// answer rateLimitExceeded. Zero means unlimited.
	QuotaPerProjectPerMinute int
	// QuotaExceededStatus is how a spent per-user budget answers: 403
	// usageLimits userRateLimitExceeded, as Gmail's and Calendar's error
	// guides document (the default), or 429 RESOURCE_EXHAUSTED, as newer
	// front ends answer. A client must take both as a rate limit.
	QuotaExceededStatus int
	// FullSyncFirstPagesPerMinute is how many first pages of a full People
	// sync (connections.list with requestSyncToken and neither a sync nor a
	// page token) a user may read a minute; past it they answer 429, as the
	// method documents. Zero means no limit.
	FullSyncFirstPagesPerMinute int
	// SendLimitPerDay is how many recipients a user may send to in a
	// rolling day (Workspace's daily sending limit is 2,000); past it
	// messages.send answers 429 until the oldest send is a day old. Zero
	// means no limit.
	SendLimitPerDay int
	// QuotaBurst, when set, makes the per-user budget a token bucket
	// refilled at the per-minute rate and holding QuotaBurst's worth of
	// units (Gmail's older "250 units per user per second, moving
	// average", which a burst of a second models). Zero: the units of any
	// rolling minute, as the quota page states the limits now.
	QuotaBurst time.Duration
	// HistoryRetention is how long Gmail history records are kept; a
	// history.list from before the retained history answers 404. Default
	// 7 days (Google keeps "at least a week", usually more).
	HistoryRetention time.Duration
	// Publisher delivers Gmail watch notifications to Pub/Sub. Nil: no
	// notifications are sent.
	Publisher Publisher
	// NotifyInterval is the least time between two notifications of one
	// mailbox; changes in between coalesce into one. Default 1 second.
	NotifyInterval time.Duration
	// AccessTokenLifetime is how long issued access tokens work. Default 1h.
	AccessTokenLifetime time.Duration
	// PeopleSyncDelay is how long a contact change takes to show up in
	// incremental connections.list results (Google documents a propagation
	// delay of up to several minutes). Default 0.
	PeopleSyncDelay time.Duration
	// PeopleSyncTokenLifetime is how long a People sync token works; an
	// older one answers 400 EXPIRED_SYNC_TOKEN. Default 7 days, as Google.
	PeopleSyncTokenLifetime time.Duration
	// Observe, when set, sees every API response: the method's discovery
	// ID, the status and the body. The fidelity tests check bodies against
	// the discovery documents with it.
	Observe func(methodID string, status int, body []byte)
}

// Server is a fake Google Workspace. Create it with New, serve it with
// Start or as an http.Handler, and point the official Go clients at URL().
// It is safe for concurrent use.
type Server struct {
	opts  Options
	mux   *http.ServeMux
	mu    sync.Mutex // guards everything below and all workspace data
	rng   *rand.Rand
	users map[string]*account // by lowercased address
	auth  *authState
	quota *quotaState
	lists *listings
	oauth *oauthState
	fault map[string]*Fault // by method ID
	// sent are the times of each user's sent recipients in the last day.
	sent map[string][]time.Time
	// fullSyncs are the times of each user's full-sync first pages.
	fullSyncs map[string][]time.Time
	routes    []*route
	// byPattern groups routes by mux pattern (method and path).
	byPattern map[string][]*route
	http      *httptest.Server // when started by Start
	srv       *http.Server     // when started by Listen
	url       string
	// publishErrors counts watch notifications the Publisher refused.
	publishErrors atomic.Int64

	channels     map[string]*pushChannel // Calendar push channels by id/resourceId
	pushers      sync.WaitGroup          // their delivery goroutines
	pushClient   *http.Client
	pushFailures atomic.Int64
	// addOnMessages are the open-message access tokens of add-on events:
	// token → "user messageID".
	addOnMessages map[string]string
}

// New returns a fake Workspace with no users.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.HistoryRetention == 0 {
		opts.HistoryRetention = 7 * 24 * time.Hour
	}
	if opts.NotifyInterval == 0 {
		opts.NotifyInterval = time.Second
	}
	if opts.PeopleSyncTokenLifetime == 0 {
		opts.PeopleSyncTokenLifetime = 7 * 24 * time.Hour
	}
	if opts.AccessTokenLifetime == 0 {
		opts.AccessTokenLifetime = time.Hour
	}
	switch opts.QuotaExceededStatus {
	case 0:
		opts.QuotaExceededStatus = 403
	case 403, 429:
	default:
		panic(fmt.Sprintf("fakegoogle: QuotaExceededStatus %d (want 403 or 429)", opts.QuotaExceededStatus))
	}
	s := &Server{
		opts:  opts,
		mux:   http.NewServeMux(),
		rng:   rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		users: map[string]*account{},
		auth:  newAuthState(),
		quota: newQuotaState(),
		lists: newListings(),
		oauth: newOAuthState(),
		fault: map[string]*Fault{},
		sent:  map[string][]time.Time{},

		fullSyncs: map[string][]time.Time{},

		byPattern: map[string][]*route{},
		channels:  map[string]*pushChannel{},

		pushClient: &http.Client{Timeout: 10 * time.Second},
	}
	s.routeGmail()
	s.routePeople()
	s.routeCalendar()
	s.routeOAuth()
	return s
}

// Started is a fake started for a test, stopped when the test ends (t is
// a *testing.T or *testing.B).
func Started(t interface{ Cleanup(func()) }, opts Options) *Server {
	s := New(opts)
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// Start serves the fake on a local port (httptest) and returns its URL.
func (s *Server) Start() string {
	s.http = httptest.NewServer(s)
	s.url = s.http.URL
	return s.url
}

// Listen serves the fake on addr (host:port) until Close, for the
// sandbox, and returns its URL.
func (s *Server) Listen(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(l)
	s.url = "http://" + l.Addr().String()
	return s.url, nil
}

// URL is the base address of the fake.
func (s *Server) URL() string { return s.url }

// PublishErrors counts the watch notifications the Publisher refused;
// each one is lost, as Google's would be.
func (s *Server) PublishErrors() int64 { return s.publishErrors.Load() }

// Close stops Calendar push deliveries and a server started with Start.
func (s *Server) Close() {
	s.stopChannels()
	if s.http != nil {
		s.http.Close()
	}
	if s.srv != nil {
		s.srv.Close()
	}
}

// ServeHTTP serves the fake's REST paths.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// route is one API method: its REST path, discovery ID, quota cost and the
// scopes that allow it (any one of them suffices, as in the discovery
// documents).
type route struct {
	httpMethod string
	pattern    string // net/http pattern, path only
	id         string // discovery method ID, e.g. gmail.users.messages.get
	service    string // e.g. gmail.googleapis.com
	units      int
	scopes     []string
	// userParam names the path parameter addressing a user ("userId"), or "".
	userParam string
	// docPath is the method's path as the discovery document writes it,
	// when the mux pattern cannot be (People's "v1/{+resourceName}").
	docPath string
	// suffix is the custom-method suffix of the last path segment
	// (":updateContact"); routes sharing a pattern are told apart by it.
	suffix string
	handle func(*call) (any, error)
}

// call is one authenticated request to a route.
type call struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	route *route
	user  *account // the authenticated user
}

// param is a path parameter, without the route's custom-method suffix.
func (c *call) param(name string) string {
	return strings.TrimSuffix(c.r.PathValue(name), c.route.suffix)
}
func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }

// decode reads the JSON request body into v; unknown fields are refused as
// Google does.
func (c *call) decode(v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.w, c.r.Body, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest("Invalid JSON payload received. %v", err)
	}
	return nil
}

func (s *Server) handle(rt *route) {
	key := rt.httpMethod + " " + rt.pattern
	if s.byPattern[key] == nil {
		s.mux.HandleFunc(key, func(w http.ResponseWriter, r *http.Request) {
			if rt := s.pick(key, r.URL.Path); rt != nil {
				s.serveRoute(rt, w, r)
				return
			}
			writeAPIError(w, &apiError{Code: 404, Status: "NOT_FOUND", Reason: "notFound",
				Message: "Method not found: " + r.Method + " " + r.URL.Path})
		})
	}
	s.byPattern[key] = append(s.byPattern[key], rt)
	s.routes = append(s.routes, rt)
}

// pick chooses among the routes sharing a pattern by the custom-method
// suffix of the path; a route without a suffix takes the rest.
func (s *Server) pick(key, path string) *route {
	var plain *route
	for _, rt := range s.byPattern[key] {
		switch {
		case rt.suffix == "":
			// A plain route does not take a custom method ("x:verb")
			// unless its own pattern names one literally.
			last := path[strings.LastIndexByte(path, '/')+1:]
			if !strings.Contains(last, ":") || strings.HasSuffix(rt.pattern, last) {
				plain = rt
			}
		case strings.HasSuffix(path, rt.suffix):
			return rt
		}
	}
	return plain
}

func (s *Server) serveRoute(rt *route, w http.ResponseWriter, r *http.Request) {
	if s.opts.Observe != nil {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.opts.Observe(rt.id, rec.status, rec.body.Bytes()) }()
		w = rec
	}
	s.mu.Lock()
	f := s.fault[rt.id]
	var injected int
	var delay time.Duration
	if f != nil {
		injected, delay = f.next(s.rng)
	}
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}

	user, aerr := s.authenticate(r, rt)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if injected != 0 {
		s.countFault(rt, user.email)
		writeAPIError(w, errServer(injected))
		return
	}
	if ok, perUser := s.charge(rt, user.email); !ok {
		writeAPIError(w, errRateLimited(rt.service, rt.id, perUser, s.opts.QuotaExceededStatus))
		return
	}
	c := &call{s: s, w: w, r: r, route: rt, user: user}
	out, err := rt.handle(c)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Code: 500, Status: "INTERNAL", Reason: "backendError", Message: err.Error()}
		}
		writeAPIError(w, ae)
		return
	}
	if out == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(out)
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// RouteInfo describes one method the fake serves.
type RouteInfo struct {
	ID, HTTPMethod, Path string
	Units                int
	Scopes               []string
}

// Routes lists the methods the fake serves, with their quota costs.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(s.routes))
	for _, rt := range s.routes {
		path := rt.pattern
		if rt.docPath != "" {
			path = rt.docPath
		}
		out = append(out, RouteInfo{ID: rt.id, HTTPMethod: rt.httpMethod, Path: path, Units: rt.units, Scopes: rt.scopes})
	}
	return out
}

// Fault describes injected failures of one method. Either a Rate of
// failures (each answered with one of Codes, default 503) or a Script: a
// sequence of status codes answered in turn (0 lets the call through), after
// which calls pass. Latency is added to every call of the method.
type Fault struct {
	Rate    float64
	Codes   []int
	Script  []int
	Latency time.Duration
}

func (f *Fault) next(rng *rand.Rand) (code int, delay time.Duration) {
	delay = f.Latency
	if len(f.Script) > 0 {
		code, f.Script = f.Script[0], f.Script[1:]
		return code, delay
	}
	if f.Rate > 0 && rng.Float64() < f.Rate {
		codes := f.Codes
		if len(codes) == 0 {
			codes = []int{503}
		}
		return codes[rng.IntN(len(codes))], delay
	}
	return 0, delay
}

// SetFault injects failures into the method with this discovery ID (e.g.
// "gmail.users.messages.get"), or into every method with "*". A nil fault
// removes it. An ID the fake does not serve panics: a fault on a method
// nobody calls would make a test prove nothing.
func (s *Server) SetFault(method string, f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "*" {
		for _, rt := range s.routes {
			s.setFaultLocked(rt.id, f)
		}
		return
	}
	if !slices.ContainsFunc(s.routes, func(rt *route) bool { return rt.id == method }) {
		panic("fakegoogle: SetFault: no method " + method + " (want a discovery ID such as gmail.users.messages.get)")
	}
	s.setFaultLocked(method, f)
}

func (s *Server) setFaultLocked(method string, f *Fault) {
	if f == nil {
		delete(s.fault, method)
		return
	}
	cp := *f
	cp.Script = append([]int(nil), f.Script...)
	s.fault[method] = &cp
}

func (s *Server) newID() string {
	return fmt.Sprintf("%016x", s.rng.Uint64())
}
