# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: lang,tags,-all
#     main_language: python
#     notebook_metadata_filter: -all
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown] lang="en"
# # Lab 4 - ExternalName: a Service that is only a DNS name
#
# **You will learn to**
# - create an ExternalName Service and see what it does not have: no cluster IP, no endpoints, no
#   proxying;
# - follow the cluster DNS answer: the Service name is a CNAME to another name;
# - see why the source material's curl to Google answered 404;
# - point an ExternalName at a name inside the cluster (the lab works offline), and have it graded.

# %% [markdown] lang="ko"
# # 실습 4 - ExternalName: DNS 이름뿐인 서비스
#
# **이 실습에서 배우는 것**
# - ExternalName 서비스를 만들고 이 서비스에 없는 것 확인하기: 클러스터 IP, 엔드포인트, 프록시
# - 클러스터 DNS의 응답 따라가기: 서비스 이름이 다른 이름의 CNAME이 된다
# - 원본 글에서 구글로 보낸 curl이 404를 받은 이유 이해하기
# - ExternalName이 클러스터 내부 이름을 가리키게 만들고(오프라인에서도 동작) 채점받기

# %% [markdown] lang="en"
# ## 1. Set up
#
# Besides the web Deployment and the client pod, this lab gives a ClusterIP Service `web-service`
# in front of the web pods: the in-cluster name our ExternalName will point at.

# %% [markdown] lang="ko"
# ## 1. 실습 준비
#
# 이 실습은 웹 디플로이먼트와 클라이언트 파드 외에 웹 파드 앞단의 ClusterIP 서비스 `web-service`도
# 함께 배포한다. ExternalName이 가리킬 클러스터 내부 이름이다.

# %%
import labs
from labs import notebooks as nb
from labs import widgets as lw

lab = nb.fresh("externalname")

# %%
# !kubectl get all -n lab-externalname

# %% [markdown] lang="en"
# ## 2. The concept
#
# ClusterIP, NodePort and LoadBalancer forward traffic to pods. ExternalName does not forward
# anything: it makes the cluster DNS answer the Service's name with a **CNAME** record pointing at
# `spec.externalName`. The client then resolves that name and connects to it directly. So there is
# no cluster IP, no selector, no endpoints, and `ports` (if any) are not proxied.
#
# Use it to give something outside the cluster (a managed database, a third-party API) a name inside
# it: applications use `my-db`, and when the database moves only the Service changes.
#
# ```mermaid
# flowchart LR
#   c(["nginx01"]) -- "1. who is web-service-externalname?" --> dns["cluster DNS"]
#   dns -- "2. CNAME web-service.lab-externalname.svc.cluster.local<br/>-> A CLUSTER-IP of web-service" --> c
#   c -- "3. http://web-service-externalname:80<br/>(to the address DNS gave)" --> svc["Service web-service<br/>ClusterIP :80"]
#   svc --> p["deploy-test01 pods :80"]
# ```

# %% [markdown] lang="ko"
# ## 2. 개념
#
# ClusterIP, NodePort, LoadBalancer는 트래픽을 파드로 전달한다. ExternalName은 아무것도 전달하지
# 않는다. 대신 클러스터 DNS가 서비스 이름에 대해 `spec.externalName`을 가리키는 **CNAME** 레코드를
# 돌려주게 한다. 클라이언트는 그 이름을 다시 조회해서 직접 접속한다. 그래서 클러스터 IP도, 셀렉터도,
# 엔드포인트도 없으며, `ports`를 적더라도 프록시되지 않는다.
#
# 클러스터 외부의 대상(관리형 데이터베이스, 서드파티 API 등)에 클러스터 내부 이름을 붙일 때 쓴다.
# 애플리케이션은 `my-db`라는 이름만 쓰고, 데이터베이스가 옮겨 가면 서비스만 바꾸면 된다.
#
# ```mermaid
# flowchart LR
#   c(["nginx01"]) -- "1. web-service-externalname 조회" --> dns["클러스터 DNS"]
#   dns -- "2. CNAME web-service.lab-externalname.svc.cluster.local<br/>-> web-service의 CLUSTER-IP (A 레코드)" --> c
#   c -- "3. http://web-service-externalname:80<br/>(DNS가 알려 준 주소로)" --> svc["서비스 web-service<br/>ClusterIP :80"]
#   svc --> p["deploy-test01 파드 :80"]
# ```

# %% [markdown] lang="en"
# ## 3. The source material's version: www.google.com
#
# The source material pointed the Service at `www.google.com`. `kubectl get svc` shows the target
# in `EXTERNAL-IP`, and `<none>` as the cluster IP and ports.

# %% [markdown] lang="ko"
# ## 3. 원본 글의 예제: www.google.com
#
# 원본 글에서는 서비스가 `www.google.com`을 가리키게 했다. `kubectl get svc`를 보면 `EXTERNAL-IP`에
# 대상 도메인이, 클러스터 IP와 포트에는 `<none>`이 표시된다.

# %%
# !cat ../../manifests/externalname/service-test04-online.yml
# !kubectl apply -n lab-externalname -f ../../manifests/externalname/service-test04-online.yml
# !kubectl get svc -n lab-externalname

# %% [markdown] lang="en"
# From inside the cluster, the name now resolves through the CNAME (only when the cluster can reach
# the internet's DNS). In the source material `curl web-service-externalname` got Google's **404**:
# the request arrived at Google with `Host: web-service-externalname`, a site Google does not serve.
# DNS worked; HTTP virtual hosting did not know the alias. That is a limit of ExternalName for HTTP
# and TLS: the client still sends the name it used.

# %% [markdown] lang="ko"
# 클러스터 내부에서 이 이름을 조회하면 CNAME을 따라간다(클러스터가 인터넷 DNS에 닿을 때만).
# 원본 글에서 `curl web-service-externalname`이 구글의 **404**를 받은 것은 요청이
# `Host: web-service-externalname` 헤더를 달고 구글에 도착했기 때문이다. 구글은 그런 이름의
# 사이트를 서비스하지 않는다. DNS 조회는 성공했지만 HTTP 가상 호스트는 이 별칭을 모른다. HTTP와
# TLS에서 ExternalName이 가진 한계다. 클라이언트는 자신이 사용한 이름을 그대로 보낸다.

# %% tags=["needs-exec"]
labs.lookup("externalname", "web-service-externalname")

# %% [markdown] lang="en"
# Delete it: the challenge makes the same Service point inside the cluster.

# %% [markdown] lang="ko"
# 이 서비스는 삭제한다. 도전 과제에서 같은 이름의 서비스가 클러스터 내부를 가리키도록 만든다.

# %%
# !kubectl delete -n lab-externalname -f ../../manifests/externalname/service-test04-online.yml

# %% [markdown] lang="en"
# ## 4. The target inside the cluster
#
# `web-service` is an ordinary ClusterIP Service. Its full DNS name is
# `web-service.lab-externalname.svc.cluster.local`: `<service>.<namespace>.svc.cluster.local`.

# %% [markdown] lang="ko"
# ## 4. 클러스터 내부의 대상
#
# `web-service`는 평범한 ClusterIP 서비스다. 전체 DNS 이름은
# `web-service.lab-externalname.svc.cluster.local`, 즉 `<서비스>.<네임스페이스>.svc.cluster.local`
# 형식이다.

# %%
nb.require("externalname", "service/web-service", section="1")
lw.port_explorer("lab-externalname", "web-service")
# !kubectl get endpoints -n lab-externalname web-service

# %% tags=["needs-exec"]
labs.lookup("externalname", "web-service.lab-externalname.svc.cluster.local")

# %% [markdown] lang="en"
# ## 5. Break it
#
# **A target that is not a DNS name.** `externalName` must be a valid DNS name (lower case, digits,
# `-` and `.`): an underscore is refused by the API server.

# %% [markdown] lang="ko"
# ## 5. 일부러 망가뜨려 보기
#
# **DNS 이름이 아닌 대상.** `externalName`은 올바른 DNS 이름(소문자, 숫자, `-`, `.`)이어야 한다.
# 밑줄(`_`)이 들어가면 API 서버가 거부한다.

# %%
bad_name = nb.scratch("break-externalname.yml", """
apiVersion: v1
kind: Service
metadata:
  name: web-service-badname
spec:
  type: ExternalName
  externalName: web_service.lab-externalname.svc.cluster.local
""")
with nb.expect_error():
    labs.apply("externalname", [bad_name])

# %% [markdown] lang="en"
# **A name that does not exist.** The API server accepts any well-formed name: nothing checks that
# it resolves. The mistake shows only when a client looks it up.

# %% [markdown] lang="ko"
# **존재하지 않는 이름.** API 서버는 형식만 맞으면 어떤 이름이든 받아들인다. 실제로 조회되는지는
# 아무도 확인하지 않으므로, 실수는 클라이언트가 이름을 조회할 때에야 드러난다.

# %%
nowhere = nb.scratch("break-nowhere.yml", """
apiVersion: v1
kind: Service
metadata:
  name: web-service-nowhere
spec:
  type: ExternalName
  externalName: no-such-service.lab-externalname.svc.cluster.local
""")
# !kubectl apply -n lab-externalname -f work/break-nowhere.yml
# !kubectl get svc -n lab-externalname web-service-nowhere

# %% tags=["needs-exec"]
labs.lookup("externalname", "web-service-nowhere")

# %%
# !kubectl delete -n lab-externalname -f work/break-nowhere.yml

# %% [markdown] lang="en"
# ## 6. Challenge
#
# Create `web-service-externalname`, an ExternalName Service whose name leads to `web-service` in
# this namespace. Then `curl http://web-service-externalname` from `nginx01` reaches the web pods,
# through the CNAME and `web-service`'s cluster IP.

# %% [markdown] lang="ko"
# ## 6. 도전 과제
#
# 이 네임스페이스의 `web-service`로 이어지는 ExternalName 서비스 `web-service-externalname`을
# 만든다. 그러면 `nginx01`에서 `curl http://web-service-externalname`을 보냈을 때 CNAME과
# `web-service`의 클러스터 IP를 거쳐 웹 파드에 도달한다.

# %% tags=["challenge"]
my_service = """
apiVersion: v1
kind: Service
metadata:
  name: web-service-externalname
spec:
  type: TODO
  externalName: TODO
"""
path = nb.my_manifest("web-service-externalname.yml", my_service)
if path:
    labs.apply("externalname", [path])

# %%
lw.hints(en=["spec.type: ExternalName (no selector, no ports needed).",
             "The target is a DNS name, not an IP: <service>.<namespace>.svc.cluster.local.",
             "externalName: web-service.lab-externalname.svc.cluster.local"],
         ko=["spec.type: ExternalName (셀렉터와 포트는 필요 없다)",
             "대상은 IP가 아니라 DNS 이름이다: <서비스>.<네임스페이스>.svc.cluster.local",
             "externalName: web-service.lab-externalname.svc.cluster.local"])

# %% tags=["needs-exec"]
# !kubectl exec -n lab-externalname nginx01 -- curl -s http://web-service-externalname

# %% [markdown] lang="en"
# ## 7. Check

# %% [markdown] lang="ko"
# ## 7. 채점

# %% tags=["check"]
labs.check("externalname")

# %% [markdown] lang="en"
# ## 8. Clean up

# %% [markdown] lang="ko"
# ## 8. 리소스 정리

# %%
lw.stop_all()
labs.reset("externalname")
