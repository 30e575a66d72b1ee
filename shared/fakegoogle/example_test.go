package fakegoogle_test

import (
	"context"
	"fmt"

	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"

	"github.com/crmsync/crmsync/shared/fakegoogle"
)

// The fake serves Google's APIs on a local address; the official clients
// reach it with its address as their endpoint and its tokens. Here a
// message arrives in Ann's mailbox and the Gmail client lists it, then
// asks for a message that does not exist and gets Google's 404 shape.
func Example() {
	g := fakegoogle.New(fakegoogle.Options{})
	g.Start()
	defer g.Close()
	g.AddUser(fakegoogle.User{Email: "ann@firm.test"})
	id, _ := g.InsertMessage("ann@firm.test", []byte("From: carol@client.test\r\nTo: ann@firm.test\r\nSubject: Policy\r\n\r\nHello"), []string{"INBOX"})

	ctx := context.Background()
	tokens, _ := g.Tokens(ctx, "ann@firm.test", []string{gmail.GmailModifyScope})
	svc, _ := gmail.NewService(ctx, option.WithEndpoint(g.URL()+"/"), option.WithTokenSource(tokens))
	list, _ := svc.Users.Messages.List("me").LabelIds("INBOX").Do()
	fmt.Println(len(list.Messages), list.Messages[0].Id == id)
	_, err := svc.Users.Messages.Get("me", "no-such-message").Do()
	fmt.Println(err)
	// Output:
	// 1 true
	// googleapi: Error 404: Requested entity was not found., notFound
}
